package dev.ferry.engine.recipient;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.diff.FileHashes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The hashes a live pass leaves for the next one are exactly what hashing the copy again would give: the pieces the
 * pass wrote are hashed again, the rest carried over, a grown file's new pieces added; and a file changed after the
 * pass (here: grown) is not served from the cache.
 */
class CopyHashCacheTest
{
    private static final int PIECE = 16 * 1024;

    @TempDir
    Path dir;

    private TargetEntry entry(final TargetEntries entries, final String name, final long donorSize)
    {
        final TargetEntry e = entries.add(name.getBytes(StandardCharsets.UTF_8), DescriptorFlyweight.FILE_REGULAR,
            donorSize, 0644, 0, null, 0, 0, 0, 0, -1, 0, null);
        e.have(true);
        return e;
    }

    private static void write(final Path f, final long at, final byte[] bytes) throws Exception
    {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE))
        {
            ch.write(ByteBuffer.wrap(bytes), at);
        }
    }

    @Test
    void thePassesWritesAreHashedAgainAndTheRestCarriedOver() throws Exception
    {
        final Random random = new Random(7);
        final byte[] content = new byte[40 * PIECE + 100];
        random.nextBytes(content);
        final Path f = dir.resolve("table");
        Files.write(f, content);
        final TargetEntries entries = new TargetEntries(dir);
        final TargetEntry e = entry(entries, "table", 48L * PIECE); // the donor's version is longer: the copy grows
        final HaveList have = HaveList.compute(entries, new int[0], PIECE, 1);
        assertArrayEquals(new FileHashes(PIECE).of(f, Long.MAX_VALUE), have.hashesAt(0));

        // the pass writes pieces 3 and 7 of its first block and a new tail (pieces 40-47)
        final byte[] piece = new byte[PIECE];
        random.nextBytes(piece);
        write(f, 3L * PIECE, piece);
        random.nextBytes(piece);
        write(f, 7L * PIECE, piece);
        final byte[] tail = new byte[8 * PIECE];
        random.nextBytes(tail);
        write(f, 40L * PIECE, tail);
        final Queue<long[]> writes = new ConcurrentLinkedQueue<>();
        writes.add(new long[] { 0, 0, (1L << 3) | (1L << 7), 64L * PIECE });
        writes.add(new long[] { 0, 32L * PIECE, 0xFFL << 8, 16L * PIECE }); // pieces 40-47 of the block at 32
        final CopyHashCache cache = new CopyHashCache();
        cache.afterPass(have, entries, writes, PIECE);

        final long[] fresh = new FileHashes(PIECE).of(f, Long.MAX_VALUE);
        assertEquals(48 * 2, fresh.length);
        assertArrayEquals(fresh, cache.lookup(e, 48, PIECE), "the cache equals the copy hashed again");
        final HaveList next = HaveList.compute(entries, new int[0], PIECE, 1, cache);
        assertArrayEquals(fresh, next.hashesAt(0));
        assertEquals(0, next.bytesHashed(), "nothing read again");
        assertEquals(2, cache.hits(), "one lookup by hand, one by the next pass");

        // changed after the pass: not served
        Files.write(f, new byte[] { 1 }, StandardOpenOption.APPEND);
        assertNull(cache.lookup(e, 48, PIECE));
    }
}
