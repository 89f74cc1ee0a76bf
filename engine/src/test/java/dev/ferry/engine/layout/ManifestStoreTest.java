package dev.ferry.engine.layout;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.ferry.core.protocol.DescriptorFlyweight;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The donor's packed manifest (issue 10): every field reads back as it was added, a FILE descriptor encoded in place
 * from the store is byte for byte the one {@link DescriptorFlyweight#encodeFile} makes of the same entry, and a
 * manifest of 200,000 entries with its chunk plan costs what docs/PROTOCOL.md (Limits) says: no heap per entry, and about {@link Manifest#FIXED_LENGTH} + 10 bytes + the path off the heap, in mapped pages rather than
 * direct memory.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ManifestStoreTest
{
    private static final int ENTRIES = 200_000;

    @Test
    void everyFieldReadsBackAndTheDescriptorIsTheFlyweightsOwn()
    {
        final List<Manifest.Entry> in = new ArrayList<>();
        in.add(new Manifest.Entry(0, new byte[0], DescriptorFlyweight.FILE_DIRECTORY, 0, 0700, 17L, null, 0, 0, 0, 0,
            DescriptorFlyweight.NO_LINK, 0, null));
        final byte[] xattrs = xattrs("user.a", new byte[] { 0, 1, (byte)0xFF }, "security.capability", new byte[20]);
        in.add(new Manifest.Entry(1, bytes("f\u00e9"), DescriptorFlyweight.FILE_REGULAR, 5_000_000_000L, 04755,
            -3L, null, 1000, 1001, 0, DescriptorFlyweight.FILE_FLAG_SPARSE, DescriptorFlyweight.NO_LINK, 2, xattrs));
        in.add(new Manifest.Entry(2, new byte[] { 'b', (byte)0xFF, 'n' }, DescriptorFlyweight.FILE_HARDLINK, 0, 0644,
            Long.MAX_VALUE, null, 7, 8, 0, 0, 1, 0, null));
        in.add(new Manifest.Entry(3, bytes("l"), DescriptorFlyweight.FILE_SYMLINK, 0, 0777, 9L,
            new byte[4095], 0, 0, 0, 0, DescriptorFlyweight.NO_LINK, 0, null));
        in.add(new Manifest.Entry(4, bytes("tty"), DescriptorFlyweight.FILE_CHAR_DEVICE, 0, 0620, 1L, null, 0, 5,
            0x0000_0004_0000_0401L, 0, DescriptorFlyweight.NO_LINK, 1, xattrs("user.x", new byte[] { 9 })));
        final byte[] deep = new byte[4095];
        Arrays.fill(deep, (byte)'p');
        in.add(new Manifest.Entry(5, deep, DescriptorFlyweight.FILE_REGULAR, 0, 0600, 2L, null, 0, 0, 0, 0,
            DescriptorFlyweight.NO_LINK, 0, null));
        final Manifest m = new Manifest(in, 3, List.of("w"));
        final ChunkPlan plan = ChunkPlan.build(m, 1 << 20, 1 << 16, 1000);
        assertEquals(6, m.size());
        assertEquals(5_000_000_000L, m.totalBytes());
        assertEquals(2, m.regularFiles());
        assertEquals(3, m.skipped());
        assertEquals(List.of("w"), m.warnings());
        assertEquals(4769, plan.chunkCount()); // 5 GB in 1 MiB chunks
        final UnsafeBuffer a = new UnsafeBuffer(ByteBuffer.allocateDirect(300_000));
        final UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocateDirect(300_000));
        for (int i = 0; i < in.size(); i++)
        {
            final Manifest.Entry want = in.get(i);
            final Manifest.Entry got = m.entry(i);
            assertEquals(i, got.index);
            assertArrayEquals(want.pathBytes, got.pathBytes);
            assertEquals(want.path(), got.path());
            assertEquals(want.path(), m.path(i));
            assertEquals(want.type, got.type);
            assertEquals(want.type, m.type(i));
            assertEquals(want.size, got.size);
            assertEquals(want.size, m.size(i));
            assertEquals(want.mode, got.mode);
            assertEquals(want.mtimeNanos, got.mtimeNanos);
            assertArrayEquals(want.linkTargetBytes, got.linkTargetBytes);
            assertEquals(want.uid, got.uid);
            assertEquals(want.gid, got.gid);
            assertEquals(want.rdev, got.rdev);
            assertEquals(want.rdev, m.rdev(i));
            assertEquals(want.flags, got.flags);
            assertEquals(want.linkIndex, got.linkIndex);
            assertEquals(want.xattrCount, got.xattrCount);
            assertArrayEquals(want.xattrs, got.xattrs);
            assertEquals(m.firstChunk(i), got.firstChunk());
            assertEquals(m.chunkSpan(i), got.chunkSpan());
            final int la = DescriptorFlyweight.encodeFile(a, 0, i, got.size, got.mtimeNanos, got.mode, got.type,
                got.flags, got.firstChunk(), got.chunkSpan(), got.uid, got.gid, got.rdev, got.linkIndex, got.pathBytes,
                got.linkTargetBytes, got.xattrCount, got.xattrs);
            b.setMemory(0, la + 16, (byte)0x5A);
            final int lb = m.encodeFile(b, 0, i);
            assertEquals(la, lb, "descriptor length of entry " + i);
            for (int k = 0; k < la; k++)
            {
                assertEquals(a.getByte(k), b.getByte(k), "byte " + k + " of entry " + i);
            }
            assertEquals((byte)0x5A, b.getByte(lb), "written past the descriptor of entry " + i);
        }
        assertEquals(0, m.chunkSpan(0));
        assertEquals(4769, m.chunkSpan(1));
        assertEquals(0, m.chunkSpan(5));
        assertEquals((long)4768 << 20, plan.segmentOffset(4768));
        assertEquals(5_000_000_000L - ((long)4768 << 20), plan.segmentLength(4768));
    }

    @Test
    void anEntryCostsAlmostNoHeapAndItsRecordOffTheHeap() throws Exception
    {
        final long heapBefore = usedHeapAfterGc();
        final long directBefore = directUsed();
        final Manifest.Builder builder = new Manifest.Builder();
        final byte[] path = new byte[13];
        for (int i = 0; i < ENTRIES; i++)
        {
            // d012/f0000123: the shape of the million-file set, 13 bytes
            final String p = String.format("d%03d/f%07d", i / 1000, i);
            for (int k = 0; k < 13; k++)
            {
                path[k] = (byte)p.charAt(k);
            }
            builder.add(path, 0, 13, DescriptorFlyweight.FILE_REGULAR, i % 97, 0644, i, null, 1000, 1000, 0, 0,
                DescriptorFlyweight.NO_LINK, 0, null);
        }
        final Manifest m = builder.build(0, List.of());
        final ChunkPlan plan = ChunkPlan.build(m, 1 << 20, 1 << 16, 1000);
        final long heap = usedHeapAfterGc() - heapBefore;
        final long direct = directUsed() - directBefore;
        final double heapPerEntry = (double)heap / ENTRIES;
        final double offHeapPerEntry = (double)m.storeBytes() / ENTRIES;
        System.out.printf("ManifestStoreTest: %,.1f heap bytes and %,.1f off-heap bytes per entry (13-byte paths, " +
            "chunk plan included; direct memory grew by %,d bytes)%n", heapPerEntry, offHeapPerEntry, direct);
        assertEquals(ENTRIES, m.size());
        assertTrue(plan.chunkCount() > 0);
        assertTrue(heapPerEntry < 2, "heap per entry " + heapPerEntry + " (the chunk plan's segments lie off the heap)");
        assertTrue(offHeapPerEntry < Manifest.FIXED_LENGTH + 10 + 13 + 8, "off-heap per entry " + offHeapPerEntry);
        assertTrue(direct <= 2L * PagedStore.PAGE_SIZE + 2L * 4 * OffHeapInts.DIRECT_MAX, "only the first page of each " +
            "store and small tables are direct memory, the rest is mapped (the connections' block pools need the " +
            "direct memory): " + direct);
        assertEquals("d199/f0199999", m.path(ENTRIES - 1));
    }

    private static byte[] bytes(final String s)
    {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] xattrs(final Object... nameValue)
    {
        final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < nameValue.length; i += 2)
        {
            DescriptorFlyweight.appendXattr(out, bytes((String)nameValue[i]), (byte[])nameValue[i + 1]);
        }
        return out.toByteArray();
    }

    static long usedHeapAfterGc() throws InterruptedException
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

    private static long directUsed()
    {
        for (final BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
        {
            if (pool.getName().equals("direct"))
            {
                return pool.getMemoryUsed();
            }
        }
        throw new AssertionError("no direct buffer pool");
    }
}
