package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ChunkPlan;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Measures what the recipient holds per manifest entry and per chunk, the numbers {@link MemoryBudget} and
 * docs/PROTOCOL.md (Limits) state: the heap after GC before and after a manifest of N entries (names of one byte and
 * of 100 bytes), and after the chunk plan and applied state of a layout of C chunks.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MemoryBoundsTest
{
    private static final int ENTRIES = 100_000;
    private static final int CHUNKS = 1 << 20;

    @TempDir
    Path base;

    @Test
    void anEntryCostsAboutWhatTheBudgetSays() throws Exception
    {
        final double shortName = bytesPerEntry("t1", 3);
        final double longName = bytesPerEntry("t2", 100);
        System.out.printf("MemoryBoundsTest: %,.0f bytes per entry with a 3-byte name (path of the target %d bytes), " +
            "%,.0f with a 100-byte name%n", shortName, base.resolve("t1").toString().length(), longName);
        // the budget is what an entry may cost; names lie off the heap, so their length costs the heap nothing
        assertTrue(shortName <= MemoryBudget.BYTES_PER_ENTRY, "an entry with a short name costs " + shortName +
            " bytes, the budget says " + MemoryBudget.BYTES_PER_ENTRY);
        assertTrue(longName <= MemoryBudget.BYTES_PER_ENTRY, "an entry with a 100-byte name costs " + longName +
            " bytes, the budget says " + MemoryBudget.BYTES_PER_ENTRY);
    }

    @Test
    void aChunkCostsAtMostWhatTheBudgetSays() throws Exception
    {
        final CloneSettings settings = new CloneSettings().blockSize(4096).chunkSize(4096).sync(false).conclude();
        final FileTreeRecipient r = start(base.resolve("c"), settings);
        final UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024));
        apply(r, b, DescriptorFlyweight.encodeState(b, 0, Stage.METADATA, 1, CHUNKS, 0, 4096));
        apply(r, b, DescriptorFlyweight.encodeFile(b, 0, 0, (long)CHUNKS * 4096, 0, 0644,
            DescriptorFlyweight.FILE_REGULAR, 0, CHUNKS, "big".getBytes(StandardCharsets.UTF_8), new byte[0]));
        apply(r, b, DescriptorFlyweight.encodeState(b, 0, Stage.FILE_COPY, 1, CHUNKS, 0, 4096));
        final long before = usedAfterGc();
        final ChunkPlan plan = r.plan();
        final AppliedState applied = new AppliedState(plan.chunkCount());
        final AppliedState copy = applied.copy();
        final long after = usedAfterGc();
        assertEquals(CHUNKS, plan.chunkCount());
        final double perChunk = (double)(after - before) / CHUNKS;
        System.out.printf("MemoryBoundsTest: %,.1f bytes per chunk held (chunk plan, applied state and one copy)%n",
            perChunk);
        assertTrue(perChunk * 3 < MemoryBudget.BYTES_PER_CHUNK, "a chunk holds " + perChunk + " bytes; the budget of " +
            MemoryBudget.BYTES_PER_CHUNK + " must also cover a second plan while it is built and the per-chunk maps");
        assertTrue(copy.chunkCount() == applied.chunkCount());
        r.close();
    }

    private double bytesPerEntry(final String dir, final int nameBytes) throws Exception
    {
        final CloneSettings settings = new CloneSettings().sync(false).conclude();
        final FileTreeRecipient r = start(base.resolve(dir), settings);
        final UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024));
        final long before = usedAfterGc();
        apply(r, b, DescriptorFlyweight.encodeState(b, 0, Stage.METADATA, ENTRIES, (ENTRIES + 4095) / 4096, 0,
            settings.blockSize()));
        final byte[] name = new byte[nameBytes];
        for (int i = 0; i < ENTRIES; i++)
        {
            // distinct names of exactly nameBytes bytes (base 64 digits of i, left-padded)
            int v = i;
            for (int k = nameBytes - 1; k >= 0; k--)
            {
                name[k] = (byte)"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".charAt(v & 63);
                v >>>= 6;
            }
            apply(r, b, DescriptorFlyweight.encodeFile(b, 0, i, 10, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1,
                name, new byte[0]));
        }
        final long after = usedAfterGc();
        r.close();
        return (double)(after - before) / ENTRIES;
    }

    private static FileTreeRecipient start(final Path target, final CloneSettings settings)
    {
        final FileTreeRecipient r = new FileTreeRecipient(target, settings);
        r.applyBegin(CloneMode.START, Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, 1, 0, Stage.METADATA));
        return r;
    }

    private static void apply(final FileTreeRecipient r, final UnsafeBuffer b, final int length)
    {
        r.apply(null, 0, b, 0, length, null);
    }

    static long usedAfterGc() throws InterruptedException
    {
        final Runtime rt = Runtime.getRuntime();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++)
        {
            System.gc();
            Thread.sleep(50);
            best = Math.min(best, rt.totalMemory() - rt.freeMemory());
        }
        return best;
    }
}
