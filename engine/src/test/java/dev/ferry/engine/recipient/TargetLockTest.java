package dev.ferry.engine.recipient;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * {@link TargetLock}: one clone per target, the owner named in the refusal, stale locks taken over, and nothing left
 * behind by a run that wrote nothing.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // locks held for a block without being referenced
class TargetLockTest
{
    @TempDir
    Path dir;

    @Test
    void aSecondLockIsRefusedNamingTheOwnerAndTouchesNothing() throws Exception
    {
        final Path target = dir.resolve("t");
        try (TargetLock first = TargetLock.acquire(target))
        {
            assertFalse(first.stateExisted());
            final Path lockFile = target.resolve(".ferry/lock");
            final String owner = Files.readString(lockFile);
            assertTrue(owner.startsWith("pid " + ProcessHandle.current().pid() + " on "), owner);
            final long mtime = Files.getLastModifiedTime(target.resolve(".ferry")).toMillis();
            final FerryException ex = assertThrows(FerryException.class, () -> TargetLock.acquire(target));
            assertEquals(ErrorCode.TARGET_IN_USE, ex.code());
            assertTrue(ex.getMessage().startsWith(target + " is being written by another ferry clone (pid " +
                ProcessHandle.current().pid() + " on "), ex.getMessage());
            assertEquals(owner, Files.readString(lockFile), "the refused client rewrote the owner");
            assertEquals(mtime, Files.getLastModifiedTime(target.resolve(".ferry")).toMillis());
        }
        assertFalse(Files.exists(target), "a run that wrote nothing leaves no target behind");
    }

    @Test
    void aStaleLockIsTakenOverSilently() throws Exception
    {
        final Path target = dir.resolve("t");
        Files.createDirectories(target.resolve(".ferry"));
        Files.writeString(target.resolve(".ferry/lock"), "pid 999999 on elsewhere\n");
        Files.writeString(target.resolve(".ferry/applied"), "journal");
        try (TargetLock l = TargetLock.acquire(target))
        {
            assertTrue(l.stateExisted(), "an interrupted clone's state is reported as such");
            assertTrue(Files.readString(target.resolve(".ferry/lock")).startsWith("pid " + ProcessHandle.current().pid()));
        }
        assertEquals("journal", Files.readString(target.resolve(".ferry/applied")), "the journal is kept");
        assertTrue(Files.exists(target.resolve(".ferry/lock")), "an interrupted clone's state stays as it was");
        try (TargetLock again = TargetLock.acquire(target))
        {
            assertTrue(again.stateExisted());
        }
    }

    @Test
    void anEmptyExistingTargetIsKeptAndAFileIsNotLocked() throws Exception
    {
        final Path target = Files.createDirectories(dir.resolve("empty"));
        try (TargetLock l = TargetLock.acquire(target))
        {
            assertTrue(Files.exists(target.resolve(".ferry/lock")));
        }
        assertTrue(Files.isDirectory(target), "the user's own empty directory stays");
        assertFalse(Files.exists(target.resolve(".ferry")));
        final Path file = Files.writeString(dir.resolve("file"), "x");
        assertNull(TargetLock.acquire(file));
        assertEquals("x", Files.readString(file));
    }

    @Test
    void aRunThatNeverBeganLeavesANonEmptyTargetAsItWas() throws Exception
    {
        final Path target = Files.createDirectories(dir.resolve("full"));
        Files.writeString(target.resolve("keep.txt"), "mine");
        TargetLock.acquire(target).close();
        assertEquals(java.util.List.of(target.resolve("keep.txt")), java.nio.file.Files.list(target).toList());
    }

    @Test
    void afterReleaseTheNextClientGetsIt() throws Exception
    {
        final Path target = dir.resolve("t");
        final TargetLock first = TargetLock.acquire(target);
        Files.writeString(target.resolve(".ferry/status"), "copying");
        first.close();
        assertTrue(Files.exists(target.resolve(".ferry/lock")), "a run that began keeps its state");
        try (TargetLock second = TargetLock.acquire(target))
        {
            assertTrue(second.stateExisted());
        }
    }
}
