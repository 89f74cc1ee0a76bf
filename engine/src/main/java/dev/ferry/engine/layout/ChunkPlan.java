package dev.ferry.engine.layout;

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
    private final Manifest manifest;
    private final long chunkSize;
    private final int blockSize;
    private final int filesPerChunk;
    /** Chunks laid out so far (all of them once the plan is complete); volatile for a growing plan's readers. */
    private volatile int chunkCount;
    /** Of those, how many are closed: no later entry can add to them (a growing plan's readers use only these). */
    private volatile int closedChunks;
    private int segments;
    /** The batch chunk small files are added to, or -1. */
    private int openChunk = -1;
    /** Entries laid out (a growing plan appends them in order). */
    private int laidOut;
    /** Volatile: a growing plan replaces them as it grows, and readers on other threads take the newest. */
    private volatile int[] chunkFirstSegment;
    private volatile int[] chunkSegmentCount;
    private volatile int[] chunkBlocks;
    private volatile long[] chunkBytes;
    /**
     * A segment per regular file with data (and per chunk of a large file): its file and first block. Off the heap,
     * since there are as many as files (issue 10); the per-chunk tables are on it.
     */
    private final OffHeapInts segmentFile;
    private final OffHeapInts segmentFirstBlock;
    private int[] order;
    private final boolean growing;

    private ChunkPlan(final Manifest manifest, final long chunkSize, final int blockSize, final int filesPerChunk,
        final int chunks, final int segments, final boolean growing)
    {
        this.manifest = manifest;
        this.chunkSize = chunkSize;
        this.blockSize = blockSize;
        this.filesPerChunk = filesPerChunk;
        this.growing = growing;
        this.chunkFirstSegment = new int[chunks];
        this.chunkSegmentCount = new int[chunks];
        this.chunkBlocks = new int[chunks];
        this.chunkBytes = new long[chunks];
        this.segmentFile = growing ? OffHeapInts.growing() : new OffHeapInts(segments);
        this.segmentFirstBlock = growing ? OffHeapInts.growing() : new OffHeapInts(segments);
    }

    /**
     * Lay out a manifest's files and record each file's chunk range in the manifest. Two passes: the first counts
     * chunks and segments, so the tables are allocated once at their size (no growing lists, no copies: issue 10).
     * A segment's offset and length are not stored: a batched file's segment is the whole file, a large file's
     * segments are its chunks in order.
     */
    public static ChunkPlan build(final Manifest manifest, final long chunkSize, final int blockSize, final int filesPerChunk)
    {
        final Counter counter = new Counter(chunkSize, filesPerChunk);
        long segments = 0;
        final int n = manifest.size();
        for (int i = 0; i < n; i++)
        {
            if (manifest.isRegular(i))
            {
                final long size = manifest.size(i);
                counter.add(true, size);
                segments += size == 0 ? 0 : size >= chunkSize ? (size - 1) / chunkSize + 1 : 1;
            }
        }
        if (counter.chunks() > Integer.MAX_VALUE - 8 || segments > Integer.MAX_VALUE - 8)
        {
            throw new IllegalArgumentException("a manifest of " + counter.chunks() + " chunks and " + segments +
                " segments is too large to lay out");
        }
        final ChunkPlan plan = new ChunkPlan(manifest, chunkSize, blockSize, filesPerChunk, (int)counter.chunks(),
            (int)segments, false);
        for (int i = 0; i < n; i++)
        {
            plan.append(i);
        }
        plan.finish();
        return plan;
    }

    /**
     * A plan that grows with a growing manifest ({@link Manifest.Builder#live}): {@link #append} lays out each
     * entry as it arrives, by the same rules as {@link #build}, so donor and recipient agree chunk by chunk while a
     * streamed manifest is still arriving (PROTOCOL.md 6.5). One writer; readers on other threads use only chunks below
     * {@link #closedChunks()} (read it first) until {@link #finish}.
     */
    public static ChunkPlan growing(final Manifest manifest, final long chunkSize, final int blockSize,
        final int filesPerChunk)
    {
        return new ChunkPlan(manifest, chunkSize, blockSize, filesPerChunk, 16, 0, true);
    }

    /**
     * Lay out entry {@code i}, the next one (entries come in order), and record its chunk range in the manifest.
     * A segment's offset and length are not stored: a batched file's segment is the whole file, a large file's
     * segments are its chunks in order.
     *
     * @throws IllegalArgumentException if the plan would pass {@link dev.ferry.core.protocol.LocatorCodec#MAX_CHUNKS}
     *     chunks or 2^31 segments.
     */
    public void append(final int i)
    {
        if (i != laidOut)
        {
            throw new IllegalStateException("entry " + i + " laid out where " + laidOut + " was due");
        }
        laidOut++;
        final long size = manifest.isRegular(i) ? manifest.size(i) : 0;
        if (size == 0)
        {
            manifest.chunks(i, 0, 0);
            return;
        }
        int chunks = chunkCount;
        if (size >= chunkSize)
        {
            openChunk = -1; // a chunk's segments are contiguous: close the batch before this file's own chunks
            final long span = (size - 1) / chunkSize + 1;
            ensure(chunks + span, segments + span);
            final int first = chunks;
            long off = 0;
            while (off < size)
            {
                final long len = Math.min(chunkSize, size - off);
                chunkFirstSegment[chunks] = segments;
                chunkSegmentCount[chunks] = 1;
                chunkBlocks[chunks] = blocks(len, blockSize);
                chunkBytes[chunks] = len;
                chunks++;
                segmentFile.set(segments, i);
                segmentFirstBlock.set(segments, 0);
                segments++;
                off += len;
            }
            manifest.chunks(i, first, chunks - first);
            publish(chunks);
            return;
        }
        if (openChunk < 0 || chunkBytes[openChunk] + size > chunkSize || chunkSegmentCount[openChunk] >= filesPerChunk)
        {
            ensure(chunks + 1, segments + 1);
            openChunk = chunks++;
            chunkFirstSegment[openChunk] = segments;
        }
        else
        {
            ensure(chunks, segments + 1);
        }
        segmentFile.set(segments, i);
        segmentFirstBlock.set(segments, chunkBlocks[openChunk]);
        segments++;
        chunkSegmentCount[openChunk]++;
        chunkBlocks[openChunk] += blocks(size, blockSize);
        chunkBytes[openChunk] += size;
        manifest.chunks(i, openChunk, 1);
        publish(chunks);
    }

    /**
     * The chunks laid out: all closed but a batch that a later small file could still join.
     */
    private void publish(final int chunks)
    {
        final boolean batchOpen = openChunk >= 0 && chunkSegmentCount[openChunk] < filesPerChunk &&
            chunkBytes[openChunk] < chunkSize;
        chunkCount = chunks;
        closedChunks = batchOpen ? chunks - 1 : chunks;
    }

    private void ensure(final long chunks, final long segmentsNeeded)
    {
        final long cap = growing ? dev.ferry.core.protocol.LocatorCodec.MAX_CHUNKS : Integer.MAX_VALUE - 8;
        if (chunks > cap || segmentsNeeded > Integer.MAX_VALUE - 8)
        {
            throw new IllegalArgumentException("a manifest of more than " + cap + " chunks or 2^31 segments is too " +
                "large to lay out");
        }
        if (chunks > chunkBlocks.length)
        {
            final int n = (int)Math.min(cap, Math.max(chunks, 2L * chunkBlocks.length));
            chunkFirstSegment = java.util.Arrays.copyOf(chunkFirstSegment, n);
            chunkSegmentCount = java.util.Arrays.copyOf(chunkSegmentCount, n);
            chunkBlocks = java.util.Arrays.copyOf(chunkBlocks, n);
            chunkBytes = java.util.Arrays.copyOf(chunkBytes, n);
        }
        if (growing)
        {
            segmentFile.ensure((int)segmentsNeeded);
            segmentFirstBlock.ensure((int)segmentsNeeded);
        }
    }

    /**
     * Every entry is laid out: every chunk is closed, and the reservation order is made (largest first).
     */
    public void finish()
    {
        openChunk = -1;
        final int chunks = chunkCount;
        if (chunkBlocks.length != chunks)
        {
            chunkFirstSegment = java.util.Arrays.copyOf(chunkFirstSegment, chunks);
            chunkSegmentCount = java.util.Arrays.copyOf(chunkSegmentCount, chunks);
            chunkBlocks = java.util.Arrays.copyOf(chunkBlocks, chunks);
            chunkBytes = java.util.Arrays.copyOf(chunkBytes, chunks);
        }
        final int[] o = new int[chunks];
        sortBySizeDescending(chunkBytes, o);
        order = o;
        closedChunks = chunks;
    }

    /**
     * @return chunks that no later entry can add to: all of them once the plan is complete.
     */
    public int closedChunks()
    {
        return closedChunks;
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

    private static void sortBySizeDescending(final long[] bytes, final int[] out)
    {
        // largest first, ties by index: sort (bytes, index) pairs packed in longs would lose bits, so index sort
        final Integer[] boxed = new Integer[bytes.length];
        for (int i = 0; i < boxed.length; i++)
        {
            boxed[i] = i;
        }
        java.util.Arrays.sort(boxed, (a, b) -> bytes[a] != bytes[b] ? Long.compare(bytes[b], bytes[a]) : Integer.compare(a, b));
        for (int i = 0; i < out.length; i++)
        {
            out[i] = boxed[i];
        }
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
        return segmentFile.get(segment);
    }

    public long segmentOffset(final int segment)
    {
        final int file = segmentFile.get(segment);
        if (manifest.size(file) < chunkSize)
        {
            return 0;
        }
        return (long)(segment - chunkFirstSegment[manifest.firstChunk(file)]) * chunkSize;
    }

    public long segmentLength(final int segment)
    {
        final long size = manifest.size(segmentFile.get(segment));
        return size < chunkSize ? size : Math.min(chunkSize, size - segmentOffset(segment));
    }

    public int segmentFirstBlock(final int segment)
    {
        return segmentFirstBlock.get(segment);
    }

    /**
     * @return blocks of a segment.
     */
    public int segmentBlocks(final int segment)
    {
        return blocks(segmentLength(segment), blockSize);
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
            if (segmentFirstBlock.get(mid) <= block)
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
            final int sb = segmentFirstBlock.get(s);
            final int n = segmentBlocks(s);
            if (sb + n <= fromBlock)
            {
                continue;
            }
            final long skip = (long)Math.max(0, fromBlock - sb) * blockSize;
            bytes += segmentLength(s) - skip;
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
