package dev.ferry.engine.recipient;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.fs.EntryStat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FILE SYNC of an update ({@code ferry clone --update}), driven directly: the copy is scanned and merged as the
 * update does it, one file is then written as the donor's new version would be, and FILE SYNC must restore and force
 * exactly the entries that were written or whose metadata differs from the donor's (a stale xattr removed, a mode
 * changed back to the one new files get), and leave every other entry alone: not restored, not forced, its ctime
 * where it was.
 */
class FileSyncUpdateTest
{
    static final long MTIME = 1_500_000_000_123_456_789L;

    @TempDir
    Path dir;

    @Test
    @Timeout(30)
    void onlyWhatTheUpdateWroteOrWhoseMetadataDiffersIsRestoredAndForced() throws Exception
    {
        final Path target = dir.resolve("copy");
        final Path d = target.resolve("d");
        Files.createDirectories(d);
        final String[] names = { "kept", "written", "mode", "stray-xattr" };
        for (final String n : names)
        {
            Files.write(d.resolve(n), ("old " + n).getBytes(StandardCharsets.UTF_8));
        }
        Files.getFileAttributeView(d.resolve("stray-xattr"), UserDefinedFileAttributeView.class)
            .write("stray", ByteBuffer.wrap(new byte[] { 1 }));
        final Path stateDir = target.resolve(".ferry");
        Files.createDirectories(stateDir); // as the target lock makes it, before the scan
        final FileSyncStage sync = new FileSyncStage(target, stateDir, true, new RecipientJournal(stateDir, true));
        sync.probeModesIfNeeded();
        final int uid = (Integer)Files.getAttribute(d, "unix:uid");
        final int gid = (Integer)Files.getAttribute(d, "unix:gid");
        final int fileMode = mode(d.resolve("kept"));
        final int dirMode = mode(d);
        Files.setAttribute(d.resolve("mode"), "unix:mode", 0600); // the donor has the mode new files get
        for (final String n : names)
        {
            Files.setLastModifiedTime(d.resolve(n), FileTime.from(java.time.Instant.ofEpochSecond(0, MTIME)));
        }
        Files.setLastModifiedTime(d, FileTime.from(java.time.Instant.ofEpochSecond(0, MTIME)));

        // the donor's entries: the same tree, but "written" has a new version (another mtime: compared, written)
        final TargetEntries entries = new TargetEntries(target);
        entry(entries, "", DescriptorFlyweight.FILE_DIRECTORY, 0, dirMode, uid, gid);
        entry(entries, "d", DescriptorFlyweight.FILE_DIRECTORY, 0, dirMode, uid, gid);
        entry(entries, "d/kept", DescriptorFlyweight.FILE_REGULAR, 8, fileMode, uid, gid);
        entry(entries, "d/written", DescriptorFlyweight.FILE_REGULAR, 11, fileMode, uid, gid, MTIME + 1);
        entry(entries, "d/mode", DescriptorFlyweight.FILE_REGULAR, 8, fileMode, uid, gid);
        entry(entries, "d/stray-xattr", DescriptorFlyweight.FILE_REGULAR, 15, fileMode, uid, gid);
        final ResumeMerge merge = ResumeMerge.ofTree(target, false, MtimeGranularity.EXACT);
        for (int i = 0; i < entries.size(); i++)
        {
            merge.merge(entries.get(i));
        }
        assertTrue(entries.get(2).kept() && entries.get(2).present() != null, "kept by the quick check");
        assertTrue(entries.get(3).have() && entries.get(3).present() == null, "compared piece by piece");
        // what the pieces that differ do to it: written in place, then FILE SYNC
        Files.write(d.resolve("written"), "new written".getBytes(StandardCharsets.UTF_8));
        Thread.sleep(50); // far past the file system's timestamp granularity: any metadata call would move a ctime
        final long keptCtime = ctime(d.resolve("kept"));
        final long dirCtime = ctime(d);
        sync.updating(true);
        sync.run(entries);

        assertFalse(Files.exists(stateDir), ".ferry/ is removed at the end");
        assertEquals(3, sync.restoredCount(), "written, mode and stray-xattr; not kept, not d");
        assertEquals(3, sync.forcedCount(), "the same three, each forced before .ferry/ went (no syncfs for 3 files)");
        assertEquals(keptCtime, ctime(d.resolve("kept")), "the kept file is left alone");
        assertEquals(dirCtime, ctime(d), "the unchanged directory is left alone");
        assertEquals(fileMode, mode(d.resolve("mode")), "the mode the copy had changed is set back");
        assertEquals(List.of(), Files.getFileAttributeView(d.resolve("stray-xattr"), UserDefinedFileAttributeView.class)
            .list(), "the xattr the donor does not have is removed");
        for (final String n : names)
        {
            assertEquals(n.equals("written") ? MTIME + 1 : MTIME, EntryStat.nanos(Files.getLastModifiedTime(d.resolve(n),
                LinkOption.NOFOLLOW_LINKS)), n);
        }
        assertArrayEquals("new written".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(d.resolve("written")));
    }

    private static void entry(final TargetEntries entries, final String path, final int type, final long size,
        final int mode, final int uid, final int gid)
    {
        entry(entries, path, type, size, mode, uid, gid, MTIME);
    }

    private static void entry(final TargetEntries entries, final String path, final int type, final long size,
        final int mode, final int uid, final int gid, final long mtime)
    {
        entries.add(path.getBytes(StandardCharsets.UTF_8), type, size, mode, mtime, null, uid, gid, 0, 0,
            DescriptorFlyweight.NO_LINK, 0, new byte[0]);
    }

    private static int mode(final Path p) throws Exception
    {
        return (Integer)Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
    }

    private static long ctime(final Path p) throws Exception
    {
        return EntryStat.nanos((FileTime)Files.getAttribute(p, "unix:ctime", LinkOption.NOFOLLOW_LINKS));
    }
}
