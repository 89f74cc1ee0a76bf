package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import static dev.ferry.engine.remote.RemoteTestSupport.BLOCK;
import static dev.ferry.engine.remote.RemoteTestSupport.CHUNK;
import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End-to-end clones over loopback: a {@link DonorService} with small blocks and chunks serves an edge-case tree (sizes
 * around the block and chunk sizes, empty files and directories, deep nesting, many small files, awkward names, mode
 * bits, a read-only directory, every kind of symlink, nanosecond times, and a few MB of random data) to a
 * {@link CloneClient} with 1 or 4 connections. Every clone is checked with {@link TreeComparator}, and independently
 * against the digests, modes, times and link targets the test wrote, and the {@link CloneResult} counters against the
 * tree.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RemoteCloneTest
{
    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    static Stream<Arguments> variants()
    {
        // client threads, apply threads, donor checksum, donor event loops, recipient fsync
        return Stream.of(
            Arguments.of(1, 1, true, 1, true),
            Arguments.of(4, 1, true, 1, false),
            Arguments.of(4, 2, true, 3, false),
            Arguments.of(1, 1, false, 1, false),
            Arguments.of(4, 2, false, 2, false));
    }

    private static DonorService.Options donorOptions(final boolean checksum)
    {
        return new DonorService.Options().settings(new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK)
            .checksum(checksum));
    }

    private static CloneClient.Options client(final int threads)
    {
        return new CloneClient.Options().threads(threads).settings(new CloneSettings().sync(false));
    }

    @ParameterizedTest(name = "threads={0} applyThreads={1} checksum={2} donorLoops={3} sync={4}")
    @MethodSource("variants")
    void clonesEdgeCaseTreeExactly(
        final int threads, final int applyThreads, final boolean checksum, final int loops, final boolean sync)
        throws IOException
    {
        final Path src = base.resolve("src");
        final Path dst = base.resolve("dst");
        final RemoteTestSupport.Expected expected = RemoteTestSupport.buildEdgeCaseTree(src, true);
        final long expectedBytes = RemoteTestSupport.regularBytes(src);
        assertTrue(expectedBytes > 3_000_000, "the tree must carry a few MB, has " + expectedBytes);

        final CloneResult result;
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(checksum).loops(loops)).start())
        {
            result = new CloneClient(donor.address(), dst, client(threads).applyThreads(applyThreads)
                .settings(new CloneSettings().sync(sync))).run();
            assertEquals(expectedBytes, donor.bytesSent(), "donor data bytes sent");
        }

        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        assertFalse(Files.exists(dst.resolve(ManifestScanner.STATE_DIR), LinkOption.NOFOLLOW_LINKS),
            ".ferry must be gone after a successful clone");
        assertFalse(FileTreeRecipient.isIncomplete(dst));
        assertEquals(RemoteTestSupport.listAll(src), RemoteTestSupport.listAll(dst));
        RemoteTestSupport.assertMatches(expected, dst);

        assertEquals(expectedBytes, result.dataBytes(), "CloneResult.dataBytes: " + result);
        assertTrue(result.networkBytes() >= result.dataBytes(), "networkBytes < dataBytes: " + result);
        assertEquals(RemoteTestSupport.listAll(src).size() + 1, result.entries(), "CloneResult.entries (with the root): " + result);
        assertNotEquals(0L, result.snapshotId());
        assertEquals(0L, result.restarts());
    }

    @Test
    void clonesTreeWhoseOnlyEntriesAreEmpty() throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src"));
        Files.createDirectories(src.resolve("a/b/c"));
        Files.write(src.resolve("a/empty"), new byte[0]);
        Files.createSymbolicLink(src.resolve("dangling"), Path.of("nowhere"));
        final Path dst = base.resolve("dst");

        final CloneResult result;
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(true)).start())
        {
            result = new CloneClient(donor.address(), dst, client(4)).run();
        }

        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        assertEquals(List.of("a", "a/b", "a/b/c", "a/empty", "dangling"), RemoteTestSupport.listAll(dst));
        assertEquals(0L, Files.size(dst.resolve("a/empty")));
        assertEquals("nowhere", Files.readSymbolicLink(dst.resolve("dangling")).toString());
        assertEquals(0L, result.dataBytes());
        assertFalse(FileTreeRecipient.isIncomplete(dst));
    }

    @Test
    void clonesEmptyRoot() throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src"));
        final Path dst = base.resolve("dst");

        final CloneResult result;
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(true)).start())
        {
            result = new CloneClient(donor.address(), dst, client(2)).run();
        }

        assertTrue(Files.isDirectory(dst));
        assertEquals(List.of(), RemoteTestSupport.listAll(dst));
        assertEquals(0L, result.dataBytes());
        assertEquals(1L, result.entries(), "the root directory itself is the one entry");
    }

    @Test
    void recipientThatRequiresChecksumsRefusesDonorWithout() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = base.resolve("dst");

        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(false)).start())
        {
            final FerryException ex = assertThrows(FerryException.class, () -> new CloneClient(donor.address(), dst,
                client(2).requireChecksum(true)).run());
            assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("checksum"), ex.getMessage());

            // the same donor still serves a client that accepts blocks without CRC32C
            final Path ok = base.resolve("ok");
            new CloneClient(donor.address(), ok, client(2)).run();
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, ok));
        }
    }

    @Test
    void secondCloneOfSameDonorIsIdenticalAndIndependent() throws IOException, InterruptedException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.buildEdgeCaseTree(src, false);
        final Path first = base.resolve("first");
        final Path second = base.resolve("second");

        final CloneResult a;
        final CloneResult b;
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(true)).start())
        {
            a = new CloneClient(donor.address(), first, client(3)).run();
            b = new CloneClient(donor.address(), second, client(1)).run();
            RemoteTestSupport.awaitCloneCount(donor, 0, "finished clones must be released");
        }

        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, first));
        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, second));
        assertNotEquals(a.snapshotId(), b.snapshotId(), "each clone has its own snapshot");
        assertEquals(a.dataBytes(), b.dataBytes());
        assertEquals(RemoteTestSupport.sha256(src.resolve("sizes/three-chunks-and-a-bit")),
            RemoteTestSupport.sha256(second.resolve("sizes/three-chunks-and-a-bit")));
        assertEquals("newline", new String(Files.readAllBytes(second.resolve("names/new\nline")), StandardCharsets.UTF_8));
    }
}
