package dev.ferry.engine.layout;

import org.agrona.collections.IntArrayList;
import org.agrona.collections.LongArrayList;

/**
 * How a manifest's regular files are cut into chunks and blocks.
 * <ul>
 *   <li>A file of at least one chunk size gets chunks of its own: chunk k covers bytes
 *   {@code [k * chunkSize, (k + 1) * chunkSize)}.</li>
 *   <li>Smaller files are batched: consecutive files share a chunk until it would exceed the chunk size or hold
 *   {@code filesPerChunk} files, so 20,000 tiny files make a handful of chunks, not 20,000.</li>
 *   <li>A chunk is a list of <em>segments</em> (a contiguous range of one file); a segment is cut into blocks of at
 *   most {@code blockSize}, numbered from 0 across the chunk. A block never spans two files.</li>
 *   <li>Empty files have no blocks; they are created from their metadata.</li>
 * </ul>
 * The reservation order is by chunk size, largest first, so tasks finish together. Immutable; safe to share.
 */
public final class ChunkPlan
{
    private final int blockSize;
    private final int chunkCount;
    private final int[] chunkFirstSegment;
    private final int[] chunkSegmentCount;
    private final int[] chunkBlocks;
    private final long[] chunkBytes;
    private final int[] segmentFile;
    private final long[] segmentOffset;
    private final long[] segmentLength;
    private final int[] segmentFirstBlock;
    private final int[] order;

    private ChunkPlan(
        final int blockSize, final IntArrayList chunkFirstSegment, final IntArrayList chunkSegmentCount,
        final IntArrayList chunkBlocks, final LongArrayList chunkBytes, final IntArrayList segmentFile,
        final LongArrayList segmentOffset, final LongArrayList segmentLength, final IntArrayList segmentFirstBlock)
    {
        this.blockSize = blockSize;
        this.chunkCount = chunkFirstSegment.size();
        this.chunkFirstSegment = chunkFirstSegment.toIntArray();
        this.chunkSegmentCount = chunkSegmentCount.toIntArray();
        this.chunkBlocks = chunkBlocks.toIntArray();
        this.chunkBytes = chunkBytes.toLongArray();
        this.segmentFile = segmentFile.toIntArray();
        this.segmentOffset = segmentOffset.toLongArray();
        this.segmentLength = segmentLength.toLongArray();
        this.segmentFirstBlock = segmentFirstBlock.toIntArray();
        this.order = sortedBySizeDescending(this.chunkBytes);
    }

    /**
     * Lay out a manifest's files and record each file's chunk range in its entry.
     */
    public static ChunkPlan build(final Manifest manifest, final long chunkSize, final int blockSize, final int filesPerChunk)
    {
        final IntArrayList cFirst = new IntArrayList();
        final IntArrayList cCount = new IntArrayList();
        final IntArrayList cBlocks = new IntArrayList();
        final LongArrayList cBytes = new LongArrayList();
        final IntArrayList sFile = new IntArrayList();
        final LongArrayList sOffset = new LongArrayList();
        final LongArrayList sLength = new LongArrayList();
        final IntArrayList sFirstBlock = new IntArrayList();

        int openChunk = -1;
        for (final Manifest.Entry e : manifest.entries())
        {
            if (!e.isRegular() || e.size == 0)
            {
                e.firstChunk = 0;
                e.chunkSpan = 0;
                continue;
            }
            if (e.size >= chunkSize)
            {
                openChunk = -1; // a chunk's segments are contiguous: close the batch before this file's own chunks
                e.firstChunk = cFirst.size();
                long off = 0;
                while (off < e.size)
                {
                    final long len = Math.min(chunkSize, e.size - off);
                    cFirst.addInt(sFile.size());
                    cCount.addInt(1);
                    cBlocks.addInt(blocks(len, blockSize));
                    cBytes.addLong(len);
                    sFile.addInt(e.index);
                    sOffset.addLong(off);
                    sLength.addLong(len);
                    sFirstBlock.addInt(0);
                    off += len;
                }
                e.chunkSpan = cFirst.size() - e.firstChunk;
                continue;
            }
            if (openChunk < 0 || cBytes.getLong(openChunk) + e.size > chunkSize || cCount.getInt(openChunk) >= filesPerChunk)
            {
                openChunk = cFirst.size();
                cFirst.addInt(sFile.size());
                cCount.addInt(0);
                cBlocks.addInt(0);
                cBytes.addLong(0);
            }
            sFile.addInt(e.index);
            sOffset.addLong(0);
            sLength.addLong(e.size);
            sFirstBlock.addInt(cBlocks.getInt(openChunk));
            cCount.setInt(openChunk, cCount.getInt(openChunk) + 1);
            cBlocks.setInt(openChunk, cBlocks.getInt(openChunk) + blocks(e.size, blockSize));
            cBytes.setLong(openChunk, cBytes.getLong(openChunk) + e.size);
            e.firstChunk = openChunk;
            e.chunkSpan = 1;
        }
        return new ChunkPlan(blockSize, cFirst, cCount, cBlocks, cBytes, sFile, sOffset, sLength, sFirstBlock);
    }

    /**
     * Counts the chunks a manifest lays out while its entries arrive, by the rules of {@link #build}, without building
     * anything: a recipient checks each FILE descriptor against the count the donor announced, so one descriptor
     * with an absurd size is refused before any table is built for it. O(1) memory and work per entry. One thread.
     */
    public static final class Counter
    {
        private final long chunkSize;
        private final int filesPerChunk;
        private long chunks;
        private boolean batchOpen;
        private long batchBytes;
        private int batchFiles;

        /**
         * @param chunkSize     at least 1.
         * @param filesPerChunk at least 1.
         */
        public Counter(final long chunkSize, final int filesPerChunk)
        {
            this.chunkSize = chunkSize;
            this.filesPerChunk = filesPerChunk;
        }

        /**
         * Add the next entry of the manifest.
         *
         * @param regular whether it is a regular file (only those have data).
         * @param size    its size, at least 0.
         * @return the chunks laid out so far.
         */
        public long add(final boolean regular, final long size)
        {
            if (!regular || size == 0)
            {
                return chunks;
            }
            if (size >= chunkSize)
            {
                batchOpen = false;
                chunks += (size - 1) / chunkSize + 1;
                return chunks;
            }
            if (!batchOpen || batchBytes + size > chunkSize || batchFiles >= filesPerChunk)
            {
                chunks++;
                batchOpen = true;
                batchBytes = 0;
                batchFiles = 0;
            }
            batchBytes += size;
            batchFiles++;
            return chunks;
        }

        public long chunks()
        {
            return chunks;
        }
    }

    /**
     * @return blocks needed for {@code length} bytes.
     */
    public static int blocks(final long length, final int blockSize)
    {
        return (int)((length + blockSize - 1) / blockSize);
    }

    private static int[] sortedBySizeDescending(final long[] bytes)
    {
        final Integer[] boxed = new Integer[bytes.length];
        for (int i = 0; i < boxed.length; i++)
        {
            boxed[i] = i;
        }
        java.util.Arrays.sort(boxed, (a, b) -> bytes[a] != bytes[b] ? Long.compare(bytes[b], bytes[a]) : Integer.compare(a, b));
        final int[] out = new int[boxed.length];
        for (int i = 0; i < out.length; i++)
        {
            out[i] = boxed[i];
        }
        return out;
    }

    public int blockSize()
    {
        return blockSize;
    }

    public int chunkCount()
    {
        return chunkCount;
    }

    public int chunkBlocks(final int chunk)
    {
        return chunkBlocks[chunk];
    }

    public long chunkBytes(final int chunk)
    {
        return chunkBytes[chunk];
    }

    public int firstSegment(final int chunk)
    {
        return chunkFirstSegment[chunk];
    }

    public int segmentCount(final int chunk)
    {
        return chunkSegmentCount[chunk];
    }

    public int segmentFile(final int segment)
    {
        return segmentFile[segment];
    }

    public long segmentOffset(final int segment)
    {
        return segmentOffset[segment];
    }

    public long segmentLength(final int segment)
    {
        return segmentLength[segment];
    }

    public int segmentFirstBlock(final int segment)
    {
        return segmentFirstBlock[segment];
    }

    /**
     * @return blocks of a segment.
     */
    public int segmentBlocks(final int segment)
    {
        return blocks(segmentLength[segment], blockSize);
    }

    /**
     * @return the segment of {@code chunk} that holds {@code block} (binary search).
     */
    public int segmentOf(final int chunk, final int block)
    {
        int lo = chunkFirstSegment[chunk];
        int hi = lo + chunkSegmentCount[chunk] - 1;
        while (lo < hi)
        {
            final int mid = (lo + hi + 1) >>> 1;
            if (segmentFirstBlock[mid] <= block)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /**
     * @return bytes of {@code chunk} from block {@code fromBlock} on.
     */
    public long bytesFrom(final int chunk, final int fromBlock)
    {
        if (fromBlock <= 0)
        {
            return chunkBytes[chunk];
        }
        long bytes = 0;
        final int first = chunkFirstSegment[chunk];
        for (int s = first; s < first + chunkSegmentCount[chunk]; s++)
        {
            final int sb = segmentFirstBlock[s];
            final int n = segmentBlocks(s);
            if (sb + n <= fromBlock)
            {
                continue;
            }
            final long skip = (long)Math.max(0, fromBlock - sb) * blockSize;
            bytes += segmentLength[s] - skip;
        }
        return bytes;
    }

    /**
     * @return chunk indexes, largest first.
     */
    public int[] order()
    {
        return order.clone();
    }
}
