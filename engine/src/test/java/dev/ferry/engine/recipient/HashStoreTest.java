package dev.ferry.engine.recipient;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.diff.FileHashes;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static dev.ferry.engine.recipient.HashStoreSupport.BLOCK;
import static dev.ferry.engine.recipient.HashStoreSupport.PIECE;
import static dev.ferry.engine.recipient.HashStoreSupport.cloneInto;
import static dev.ferry.engine.recipient.HashStoreSupport.donor;
import static dev.ferry.engine.recipient.HashStoreSupport.entry;
import static dev.ferry.engine.layout.TestFiles.overwrite;
import static dev.ferry.engine.recipient.HashStoreSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The copy's hash store (issue 12): a clone with {@code --keep-hashes} leaves the hashes of what it wrote, equal to
 * hashing the copy again (a plain clone none, and its first update those of what it compared); an
 * update takes the copy's hashes from it instead of reading the copy, and leaves the store right for the next one;
 * a file changed behind the store's back (same size and mtime, a new ctime), a damaged store and {@code --checksum}
 * all make the update read the copy. The suite runs with {@code ferry.hashes.check} on, so every store written in
 * any test is also checked against the copy when written.
 */
class HashStoreTest
{
    @TempDir
    Path dir;

    /** Big random files, a sparse one, one of zeros, one whose last piece is short, and small files. */
    private static void tree(final Path src, final Random r) throws IOException
    {
        Files.createDirectories(src.resolve("big"));
        Files.write(src.resolve("big/a.bin"), random(r, 40 * PIECE));
        Files.write(src.resolve("big/b.bin"), random(r, 20 * PIECE + 123));
        Files.write(src.resolve("zeros.bin"), new byte[9 * PIECE]);
        try (FileChannel ch = FileChannel.open(src.resolve("sparse.bin"), StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE))
        {
            ch.write(ByteBuffer.wrap(random(r, 3 * PIECE)), 0);
            ch.write(ByteBuffer.wrap(random(r, PIECE + 7)), 30L * PIECE);
        }
        for (int i = 0; i < 20; i++)
        {
            Files.write(src.resolve("s" + i), random(r, 1 + r.nextInt(3000)));
        }
    }

    /** What the store says of {@code rel} equals hashing the copy's file now. */
    private static void assertStored(final Path copy, final String rel) throws IOException
    {
        final TargetEntry e = entry(copy, rel);
        final long pieces = (e.size + PIECE - 1) / PIECE;
        try (HashStore s = HashStore.open(copy))
        {
            assertNotNull(s, "a hash store in " + copy);
            final long[] stored = s.lookup(e, pieces, PIECE);
            assertNotNull(stored, rel + " is in the store");
            assertArrayEquals(new FileHashes(PIECE).of(copy.resolve(rel), pieces), stored, rel);
        }
    }

    @Test
    void aCloneKeepsTheHashesOfWhatItWroteAndAnUpdateUsesThemInsteadOfReadingTheCopy() throws Exception
    {
        final Random r = new Random(12);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        tree(src, r);
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            assertTrue(Files.isRegularFile(dst.resolve(ManifestScanner.HASH_STORE)), "the copy keeps its hashes");
            assertEquals(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"),
                Files.getPosixFilePermissions(dst.resolve(ManifestScanner.HASH_STORE)),
                "it names every large file, those in private directories too: owner only");
            assertTrue(TreeComparator.compare(src, dst).isEmpty(), "the store is not part of the copy's tree");
            for (final String rel : new String[] { "big/a.bin", "big/b.bin", "zeros.bin", "sparse.bin", "s3" })
            {
                assertStored(dst, rel);
            }

            // the donor changes: a piece overwritten in one file, a tail appended to another
            overwrite(src.resolve("big/a.bin"), 17L * PIECE + 100, random(r, 4096), false);
            Files.write(src.resolve("big/b.bin"), random(r, 5000), StandardOpenOption.APPEND);
            final CloneResult u = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(2, u.diff().comparedFiles());
            assertEquals(0, u.diff().hashedBytes(), "the copy's hashes came from the store, none read");
            assertTrue(u.networkBytes() < 10L * PIECE, "only changed pieces travel: " + u.networkBytes());
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
            assertStored(dst, "big/a.bin");
            assertStored(dst, "big/b.bin");
            assertStored(dst, "zeros.bin"); // kept: carried over

            // and the store the update left serves the next one
            overwrite(src.resolve("big/a.bin"), 3L * PIECE, random(r, 100), false);
            overwrite(src.resolve("big/b.bin"), 20L * PIECE, random(r, 200), false);
            final CloneResult u2 = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(2, u2.diff().comparedFiles());
            assertEquals(0, u2.diff().hashedBytes());
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
        }
    }

    @Test
    void aPlainCloneKeepsNoHashesAndItsFirstUpdateLeavesThemForTheNext() throws Exception
    {
        final Random r = new Random(16);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        tree(src, r);
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(false));
            assertFalse(Files.exists(dst.resolve(ManifestScanner.HASH_STORE)), "no hashing pass without --keep-hashes");
            overwrite(src.resolve("big/a.bin"), 9L * PIECE, random(r, 4096), false);
            final CloneResult first = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(40L * PIECE, first.diff().hashedBytes(), "the first update reads the compared file");
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
            assertStored(dst, "big/a.bin");
            overwrite(src.resolve("big/a.bin"), 33L * PIECE, random(r, 4096), false);
            final CloneResult second = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(0, second.diff().hashedBytes(), "the next one takes its hashes from the store");
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
        }
    }

    @Test
    void aLiveCloneOfTwoPassesKeepsTheFilesOfItsFirstPass() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        tree(src, new Random(18));
        // a donor with freeze hooks always makes a frozen pass after the first: the first pass's files are carried
        // over by the frozen one, whose FILE SYNC then gives them the donor's mtimes
        try (DonorService d = new DonorService(src, new java.net.InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings().blockSize(BLOCK).chunkSize(4L * BLOCK))
                .restartWindowMs(60_000).freezeCmd("true").thawCmd("true")).start())
        {
            final CloneResult r = cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            assertTrue(r.live().passes() >= 2, "passes: " + r.live().passes());
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
            for (final String rel : new String[] { "big/a.bin", "big/b.bin", "sparse.bin" })
            {
                assertStored(dst, rel);
            }
        }
    }

    @Test
    void aCloneWithoutSyncKeepsNoStore() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        tree(src, new Random(17));
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true).settings(new CloneSettings().sync(false)));
            assertFalse(Files.exists(dst.resolve(ManifestScanner.HASH_STORE)),
                "a crash could lose an unforced store's hashes and keep its stamps");
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
        }
    }

    @Test
    void aFileChangedBehindTheStoreIsReadAgain() throws Exception
    {
        final Random r = new Random(13);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        tree(src, r);
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            // the copy is changed with its size and mtime kept (only its ctime tells): the store no longer holds
            overwrite(dst.resolve("big/a.bin"), 5L * PIECE, random(r, 4096), true);
            // and the donor's version changes elsewhere, so the update compares the file
            overwrite(src.resolve("big/a.bin"), 30L * PIECE, random(r, 4096), false);
            final CloneResult u = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(40L * PIECE, u.diff().hashedBytes(), "the changed copy was read, not taken from the store");
            assertTrue(TreeComparator.compare(src, dst).isEmpty(), "the copy's own change was mended too");
            assertStored(dst, "big/a.bin");
        }
    }

    @Test
    void aFileTheUpdateMovedKeepsItsHashes() throws Exception
    {
        final Random r = new Random(17);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        tree(src, r);
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            // the donor renames the directory: the update moves the copy's files (no bytes travel) ...
            Files.move(src.resolve("big"), src.resolve("large"));
            final CloneResult moved = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(2, moved.diff().movedFiles(), moved.diff().toString());
            assertEquals(0, moved.dataBytes());
            assertStored(dst, "large/a.bin"); // ... and their records move with them
            assertStored(dst, "large/b.bin");
            // so when one changes next, the copy's hashes come from the store: nothing of the copy is read
            overwrite(src.resolve("large/a.bin"), 7L * PIECE, random(r, 4096), false);
            final CloneResult u = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(1, u.diff().comparedFiles(), u.diff().toString());
            assertEquals(0, u.diff().hashedBytes(), "the moved file's hashes came from the store");
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
        }
    }

    @Test
    void checksumAndADamagedStoreReadTheCopy() throws Exception
    {
        final Random r = new Random(14);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        tree(src, r);
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
            overwrite(src.resolve("big/b.bin"), 2L * PIECE, random(r, 10), false);
            final CloneResult c = cloneInto(d, dst, new CloneClient.Options().update(true).resumeChecksum(true));
            assertTrue(c.diff().hashedBytes() >= Files.size(src.resolve("big/a.bin")) + Files.size(src.resolve("big/b.bin")),
                "--checksum reads every file: " + c.diff().hashedBytes());
            assertTrue(TreeComparator.compare(src, dst).isEmpty());

            // a damaged store is not trusted
            try (FileChannel ch = FileChannel.open(dst.resolve(ManifestScanner.HASH_STORE), StandardOpenOption.WRITE))
            {
                ch.write(ByteBuffer.wrap(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }), 0);
            }
            assertNull(HashStore.open(dst));
            overwrite(src.resolve("big/b.bin"), 7L * PIECE, random(r, 10), false);
            final CloneResult u = cloneInto(d, dst, new CloneClient.Options().update(true));
            assertEquals(Files.size(src.resolve("big/b.bin")), u.diff().hashedBytes());
            assertTrue(TreeComparator.compare(src, dst).isEmpty());
            assertStored(dst, "big/b.bin"); // and a sound store replaces it
        }
    }

    @Test
    void aCopyClonedOnwardDoesNotShipItsStore() throws Exception
    {
        final Random r = new Random(15);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        final Path dst2 = dir.resolve("dst2");
        tree(src, r);
        try (DonorService d = donor(src))
        {
            cloneInto(d, dst, new CloneClient.Options().keepHashes(true));
        }
        final byte[] first = Files.readAllBytes(dst.resolve(ManifestScanner.HASH_STORE));
        try (DonorService d = donor(dst))
        {
            final CloneResult c = cloneInto(d, dst2, new CloneClient.Options().keepHashes(true));
            assertEquals(ManifestScanner.scan(src).size(), c.entries(), "the store is not an entry of the copy");
        }
        assertTrue(TreeComparator.compare(src, dst2).isEmpty());
        assertStored(dst2, "big/a.bin"); // its own store, about its own inodes
        assertFalse(java.util.Arrays.equals(first, Files.readAllBytes(dst2.resolve(ManifestScanner.HASH_STORE))));
    }
}
