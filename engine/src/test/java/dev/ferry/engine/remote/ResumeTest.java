package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.recipient.RecipientJournal;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.AppliedState;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The recipient process dies (SIGKILL) mid-clone; {@code --resume} continues from the durable journal, against the
 * same snapshot while the donor holds it, or against a new snapshot (donor restarted, files changed or deleted),
 * without re-sending what was journaled.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ResumeTest
{
    private static final int BLOCK = 64 * 1024;
    private static final long CHUNK = 1024 * 1024;
    private static final long IN_FLIGHT_BOUND = 16L * 1024 * 1024;

    @TempDir
    Path dir;

    private static DonorService donor(final Path src)
    {
        return new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .settings(new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK)).restartWindowMs(60_000)).start();
    }

    private Path dataset() throws IOException, InterruptedException
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(99).mixed(src, 4, 6 * CHUNK, 400);
        // past the donor's racy window, so the snapshot flags no file RECENT: these tests count files kept by their
        // size and mtime (a RECENT file would be compared by content instead, and count as unchanged, not kept)
        Thread.sleep(2 * dev.ferry.engine.layout.ManifestScanner.RACY_WINDOW_NANOS / 1_000_000);
        return src;
    }

    /**
     * Start a clone in a child JVM through a throttled proxy, and SIGKILL it once the journal holds some chunks.
     *
     * @return the journaled applied state at the kill.
     */
    private AppliedState cloneAndKill(final InetSocketAddress via, final Path dst, final int chunks) throws Exception
    {
        return cloneAndKill(via, dst, chunks, s -> true);
    }

    /**
     * Whether one of the large files other than blob-0 (which the tests change) is complete in {@code s}: the tree's
     * first 24 chunks are the four blobs, six each. Connections complete their chunks out of order (each pipelines
     * several), so a count of complete chunks alone does not say that any file is whole.
     */
    private static boolean anUnchangedBlobIsComplete(final AppliedState s)
    {
        for (int blob = 1; blob < 4; blob++)
        {
            boolean whole = true;
            for (int c = blob * 6; c < blob * 6 + 6; c++)
            {
                whole &= c < s.chunkCount() && s.isComplete(c);
            }
            if (whole)
            {
                return true;
            }
        }
        return false;
    }

    private AppliedState cloneAndKill(final InetSocketAddress via, final Path dst, final int chunks,
        final java.util.function.Predicate<AppliedState> and) throws Exception
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final Process child = new ProcessBuilder(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-cp", System.getProperty("java.class.path"), CloneChild.class.getName(), "127.0.0.1",
            String.valueOf(via.getPort()), dst.toString()).redirectErrorStream(true)
            .redirectOutput(dir.resolve("child.log").toFile()).start();
        final Path state = dst.resolve(".ferry");
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        AppliedState journaled = null;
        while (System.nanoTime() < deadline && child.isAlive())
        {
            final RecipientJournal.Loaded l = Files.isDirectory(state) ? RecipientJournal.load(state) : null;
            if (l != null && l.applied != null && l.applied.completeCount() >= chunks && and.test(l.applied))
            {
                journaled = l.applied;
                break;
            }
            Thread.sleep(20);
        }
        child.destroyForcibly(); // SIGKILL
        child.waitFor(10, TimeUnit.SECONDS);
        assertTrue(journaled != null, "the child never journaled " + chunks + " chunks: " + Files.readString(dir.resolve("child.log")));
        return RecipientJournal.load(state).applied;
    }

    @Test
    void killedRecipientResumesAgainstTheSameSnapshot() throws Exception
    {
        final Path src = dataset();
        final Path dst = dir.resolve("dst");
        try (DonorService donor = donor(src); FaultProxy proxy = new FaultProxy(donor.address()))
        {
            proxy.throttle(8L * 1024 * 1024);
            final AppliedState journaled = cloneAndKill(proxy.address(), dst, 3);
            assertTrue(FileTreeRecipient.isIncomplete(dst));
            final FerryException refused = assertThrows(FerryException.class,
                () -> new CloneClient(donor.address(), dst, new CloneClient.Options()).run());
            assertEquals(ErrorCode.TARGET_NOT_EMPTY, refused.code());
            assertTrue(refused.describe().contains("--resume"), refused.describe());

            final long sentBefore = donor.bytesSent();
            final CloneResult r = new CloneClient(donor.address(), dst, new CloneClient.Options().threads(2).resume(true))
                .run();
            final long resent = donor.bytesSent() - sentBefore;
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertFalse(FileTreeRecipient.isIncomplete(dst));
            final long total = Files.walk(src).filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
            final long journaledBytes = journaled.completeCount() * 0L + bytesOf(journaled);
            assertTrue(resent <= total - journaledBytes + IN_FLIGHT_BOUND,
                "resume sent " + resent + " of " + total + " bytes although " + journaledBytes + " were journaled");
            assertEquals(resent, r.dataBytes());
        }
    }

    @Test
    void killedRecipientResumesAgainstANewSnapshotKeepingUnchangedFiles() throws Exception
    {
        final Path src = dataset();
        final Path dst = dir.resolve("dst");
        final AppliedState journaled;
        try (DonorService first = donor(src); FaultProxy proxy = new FaultProxy(first.address()))
        {
            proxy.throttle(8L * 1024 * 1024);
            journaled = cloneAndKill(proxy.address(), dst, 14, ResumeTest::anUnchangedBlobIsComplete);
        }
        // the donor restarted (new snapshot), and the source changed meanwhile
        final Path victim;
        try (var s = Files.list(src.resolve("small").resolve("d0")))
        {
            victim = s.sorted().findFirst().orElseThrow();
        }
        Files.delete(victim);
        Files.writeString(src.resolve("new-file.txt"), "appeared after the interruption");
        Files.write(src.resolve("large").resolve("blob-0.bin"), new byte[] { 1, 2, 3 }, java.nio.file.StandardOpenOption.APPEND);
        try (DonorService second = donor(src))
        {
            final CloneClient client = new CloneClient(second.address(), dst, new CloneClient.Options().threads(2).resume(true));
            final CloneResult r = client.run();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertFalse(Files.exists(dst.resolve(src.relativize(victim))), "a file deleted on the donor must go");
            assertTrue(client.progress().keptFiles() > 0, "unchanged complete files must be kept, not re-sent");
            final long total = Files.walk(src).filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
            // blob-0 changed and is sent again; blob-1 was complete and unchanged: it must not cross the wire
            assertTrue(client.progress().keptBytes() >= 6 * CHUNK, "kept only " + client.progress().keptBytes() + ": " + r +
                ", journaled " + journaled + ", child: " + Files.readString(dir.resolve("child.log")));
            assertTrue(r.dataBytes() <= total - 6 * CHUNK, "sent " + r.dataBytes() + " of " + total);
        }
    }

    @Test
    void resumeWithChecksumsReplacesAFileChangedInPlaceWithTheSameSizeAndMtime() throws Exception
    {
        final Path src = dataset();
        final Path dst = dir.resolve("dst");
        try (DonorService first = donor(src); FaultProxy proxy = new FaultProxy(first.address()))
        {
            proxy.throttle(8L * 1024 * 1024);
            cloneAndKill(proxy.address(), dst, 14, ResumeTest::anUnchangedBlobIsComplete);
        }
        final Path blob = src.resolve("large").resolve("blob-1.bin");
        final java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(blob);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(blob.toFile(), "rw"))
        {
            f.seek(3 * CHUNK + 5);
            final int b = f.read();
            f.seek(3 * CHUNK + 5);
            f.write(b ^ 0xFF);
        }
        Files.setLastModifiedTime(blob, mtime); // size and mtime unchanged: only a checksum can tell
        try (DonorService second = donor(src))
        {
            final CloneClient client = new CloneClient(second.address(), dst,
                new CloneClient.Options().threads(2).resume(true).resumeChecksum(true));
            final CloneResult r = client.run();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            // every file is compared piece by piece: only the changed piece (and blocks that were never journaled)
            // travel, the rest of each file stays as it was
            assertTrue(r.diff().unchangedBytes() > 0, "pieces whose hashes match are kept: " + r);
            assertTrue(r.diff().comparedFiles() > 0 && r.diff().hashedBytes() > 0, "the copy's files were hashed: " + r);
        }
    }

    private static long bytesOf(final AppliedState s)
    {
        long blocks = 0;
        for (int c = 0; c < s.chunkCount(); c++)
        {
            if (!s.isComplete(c))
            {
                blocks += s.appliedBlocks(c);
            }
        }
        return s.completeCount() * CHUNK / 2 + blocks * BLOCK / 2; // conservative: chunks of small files may be short
    }
}
