package dev.ferry.engine.recipient;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.CloneStage;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static dev.ferry.engine.recipient.HashStoreSupport.BLOCK;
import static dev.ferry.engine.recipient.HashStoreSupport.PIECE;
import static dev.ferry.engine.recipient.HashStoreSupport.cloneInto;
import static dev.ferry.engine.recipient.HashStoreSupport.donor;
import static dev.ferry.engine.recipient.HashStoreSupport.entry;
import static dev.ferry.engine.layout.TestFiles.overwrite;
import static dev.ferry.engine.recipient.HashStoreSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hash store under damage and misuse, each case one that once let an update leave the copy wrong or fail: a
 * header whose record count overflows its length check, a record with a negative or too small piece count, a zeroed
 * slot (read as "never written": zeros) where the donor's piece became zeros, a kept file written by another program
 * while an update ran (its new stamp must not be recorded with its old hashes), and {@code --resume --checksum},
 * which must read the copy. Each asserts the copy equals the donor, or that a damaged store is refused.
 */
class HashStoreDamageTest
{
    @TempDir
    Path dir;

    /** @return the offset of {@code rel}'s record in the store of {@code copy}. */
    private static long recordOf(final Path copy, final String rel) throws IOException
    {
        final byte[] want = rel.getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(copy.resolve(ManifestScanner.HASH_STORE), StandardOpenOption.READ))
        {
            final ByteBuffer h = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(h, 0);
            long at = h.getLong(32);
            final long end = h.getLong(40);
            while (at < end)
            {
                final ByteBuffer f = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
                ch.read(f, at);
                final int len = f.getInt(60);
                final ByteBuffer p = ByteBuffer.allocate(len);
                ch.read(p, at + 64);
                if (java.util.Arrays.equals(p.array(), want))
                {
                    return at;
                }
                at += (64 + len + 7) / 8 * 8;
            }
        }
        throw new AssertionError("no record for " + rel);
    }

    private static void poke(final Path copy, final long at, final byte[] bytes) throws IOException
    {
        try (FileChannel ch = FileChannel.open(copy.resolve(ManifestScanner.HASH_STORE), StandardOpenOption.WRITE))
        {
            ch.write(ByteBuffer.wrap(bytes), at);
        }
    }

    private Path cloneWithStore(final Random r) throws IOException
    {
        final Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("big"));
        Files.write(src.resolve("big/a.bin"), random(r, 40 * PIECE));
        Files.write(src.resolve("big/b.bin"), random(r, 20 * PIECE + 123));
        return src;
    }

    /** A single bit (61) flipped in the header's record count passes open()'s length check (records * 8 wraps). */
    @Test
    void aFlippedBitInTheRecordCountMustNotThrowOutOfLookup() throws Exception
    {
        final Path src = cloneWithStore(new Random(1));
        final Path dst = dir.resolve("dst");
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
        }
        poke(dst, 31, new byte[] { 0x20 }); // records was 2: its byte 7 was 0
        try (HashStore s = HashStore.open(dst))
        {
            // records * 8 wrapped round to the right length once: now every count is bounded before it is multiplied
            assertNull(s, "a header whose record count cannot fit the file is refused");
        }
    }

    /** A negative piece count in a record whose stamp still matches. */
    @Test
    void aNegativePieceCountMustNotThrowOutOfLookup() throws Exception
    {
        final Path src = cloneWithStore(new Random(2));
        final Path dst = dir.resolve("dst");
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
        }
        final long at = recordOf(dst, "big/a.bin");
        poke(dst, at + 56, new byte[] { (byte)0xff, (byte)0xff, (byte)0xff, (byte)0xff });
        try (HashStore s = HashStore.open(dst))
        {
            final TargetEntry e = entry(dst, "big/a.bin");
            assertDoesNotThrow(() -> s.lookup(e, 40, PIECE), "lookup must return null on a damaged store");
        }
    }

    /**
     * A record whose piece count is smaller than its file's (the stamp still matching) makes the copy claim it
     * ends early; the donor then leaves its holes out there, and the copy's old bytes show through.
     */
    @Test
    void aRecordWithTooFewPiecesMustNotLeaveTheCopyWrong() throws Exception
    {
        final Random r = new Random(3);
        final Path src = cloneWithStore(r);
        final Path dst = dir.resolve("dst");
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            poke(dst, recordOf(dst, "big/a.bin") + 56, new byte[] { 1, 0, 0, 0 });
            // the donor's file becomes sparse: piece 0 as it was, a hole, new data in the last piece
            final byte[] first = new byte[PIECE];
            try (FileChannel ch = FileChannel.open(src.resolve("big/a.bin"), StandardOpenOption.READ))
            {
                ch.read(ByteBuffer.wrap(first), 0);
            }
            Files.delete(src.resolve("big/a.bin"));
            try (FileChannel ch = FileChannel.open(src.resolve("big/a.bin"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE))
            {
                ch.write(ByteBuffer.wrap(first), 0);
                ch.write(ByteBuffer.wrap(random(r, PIECE)), 39L * PIECE);
            }
            cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(java.util.List.of(), TreeComparator.compare(src, dst), "the copy equals the donor");
        }
    }

    /**
     * A kept file (carried over from the store) written by someone else while the update runs: the update records
     * the new stamp with the old hashes, and the next update trusts them, so the change is never mended (with
     * -Dferry.hashes=false the next update reads the file and mends it).
     */
    @Test
    void aKeptFileWrittenDuringTheUpdateIsMendedByTheNextUpdate() throws Exception
    {
        final Random r = new Random(4);
        final Path src = cloneWithStore(r);
        final Path dst = dir.resolve("dst");
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            overwrite(src.resolve("big/a.bin"), 7L * PIECE, random(r, 100), false); // something for the update to do
            final AtomicBoolean done = new AtomicBoolean();
            final byte[] scribble = random(r, 4096);
            cloneInto(d, dst, new CloneClient.Options().update(true).onProgress(p ->
            {
                if (p.stage() == CloneStage.FILE_SYNC && done.compareAndSet(false, true))
                {
                    try
                    {
                        overwrite(dst.resolve("big/b.bin"), 5L * PIECE, scribble, false); // b.bin is kept by the update
                    }
                    catch (final IOException ex)
                    {
                        throw new java.io.UncheckedIOException(ex);
                    }
                }
            }, 1000));
            assertTrue(done.get());
            // the next update: b.bin's mtime differs from the donor's, so it is compared
            cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(java.util.List.of(), TreeComparator.compare(src, dst), "the next update mends the copy");
        }
    }

    /** A zeroed slot (0,0, "never written") in a damaged store claims zeros; a donor piece of zeros then matches. */
    @Test
    void aZeroedSlotMustNotLeaveTheCopyWrong() throws Exception
    {
        final Random r = new Random(5);
        final Path src = cloneWithStore(r);
        final Path dst = dir.resolve("dst");
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            final ByteBuffer f = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            try (FileChannel ch = FileChannel.open(dst.resolve(ManifestScanner.HASH_STORE), StandardOpenOption.READ))
            {
                ch.read(f, recordOf(dst, "big/a.bin"));
            }
            poke(dst, 64 + (f.getLong(40) + 10) * 16, new byte[16]); // piece 10 of a.bin: 0,0
            overwrite(src.resolve("big/a.bin"), 10L * PIECE, new byte[PIECE], false); // the donor's piece 10 is zeros now
            cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(java.util.List.of(), TreeComparator.compare(src, dst), "the copy equals the donor");
        }
    }

    /** --resume --checksum must read every piece of the copy, not take hashes from the store. */
    @Test
    void resumeWithChecksumReadsTheCopy() throws Exception
    {
        final Random r = new Random(6);
        final Path src = cloneWithStore(r);
        final Path dst = dir.resolve("dst");
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            Files.setLastModifiedTime(src.resolve("big/b.bin"), java.nio.file.attribute.FileTime.fromMillis(1000));
            overwrite(src.resolve("big/a.bin"), 3L * PIECE, random(r, 100), false);
            final CloneClient[] c = new CloneClient[1];
            c[0] = new CloneClient(d.address(), dst, new CloneClient.Options().update(true).threads(2).onProgress(p ->
            {
                if (p.stage() == CloneStage.FILE_COPY)
                {
                    c[0].cancel();
                }
            }, 1));
            try
            {
                c[0].run();
            }
            catch (final RuntimeException expected)
            {
                // cancelled
            }
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(dst.resolve(ManifestScanner.STATE_DIR)),
            "the update was interrupted");
        try (DonorService d = donor(src)) // a new donor: the snapshot is gone, so the resume merges by manifest
        {
            final CloneResult res = cloneInto(d, dst, new CloneClient.Options().resume(true).resumeChecksum(true));
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
            assertTrue(res.diff().hashedBytes() >= Files.size(src.resolve("big/b.bin")),
                "--checksum reads b.bin; hashed " + res.diff().hashedBytes() + " bytes");
        }
    }
}
