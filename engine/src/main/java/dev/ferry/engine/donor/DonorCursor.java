package dev.ferry.engine.donor;

import dev.ferry.engine.Trace;
import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.CopyCallback;
import dev.ferry.core.spi.DonorStorage;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.diff.HaveSet;
import dev.ferry.engine.diff.PieceHasher;
import dev.ferry.engine.diff.Zeros;
import dev.ferry.engine.fs.DataExtentCursor;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.core.protocol.Wire;

/**
 * Where one donor task is in its copy: the metadata it has offered (master only), the chunk it reserved, the block
 * it is at, and the open file. Owned by the thread that calls {@link FileTreeDonor#copy} for the task.
 * <p>
 * Small blocks are read into a buffer (cheaper than a sendfile each, and batched by the transport); larger blocks
 * are offered as file regions for zero-copy sending, with the CRC32C computed over a memory map of the file so the
 * bytes never cross into the JVM's heap.
 */
final class DonorCursor
{
    private static final int PHASE_META_START = 0;
    private static final int PHASE_META_FILES = 1;
    private static final int PHASE_META_END = 2;
    private static final int PHASE_DATA = 3;
    private static final int PHASE_DONE = 4;
    /** A streamed manifest (PROTOCOL.md 6.5): entries as the scan adds them, and the data of closed chunks. */
    private static final int PHASE_STREAM = 5;
    /**
     * While a manifest streams: blocks sent and not yet acknowledged at most ({@code ferry.donor.stream.window}). Data
     * then goes at the pace the recipient's apply worker takes it (it acknowledges every 5 ms), and never fills the
     * master's block buffers, which would stop the connection that carries the manifest; entries go in between.
     */
    static final int STREAM_WINDOW = Integer.getInteger("ferry.donor.stream.window", 64);
    private static final int OFFERS_PER_CALL = 256;
    private static final int MAP_WINDOW = 64 * 1024 * 1024;
    /** Bodies shorter than this travel uncompressed: a zstd frame's header would eat most of the gain. */
    private static final int MIN_COMPRESS_BYTES = 256;

    private final FileTreeDonor donor;
    private Locator locator;
    private final Path root;
    private final Manifest manifest;
    private final ChunkPlan plan;
    private ChunkQueue queue;
    /** The scan of a streamed snapshot (the master only), or null. */
    private final StreamedScan stream;
    /** While the manifest streams: the next chunk to send (they go in order), entries announced since the last block. */
    private int nextStreamChunk;
    /** Blocks this task has had accepted by the connection. */
    private long blocksAccepted;
    private final boolean checksum;
    private final int smallBlock;
    /** Room for the largest FILE descriptor: two strings at their cap and the xattr section at its cap. */
    private static final int DESCRIPTOR_CAPACITY = DescriptorFlyweight.FILE_PATH_OFFSET +
        2 * (Wire.STRING_LENGTH_SIZE + Wire.MAX_STRING_BYTES) + DescriptorFlyweight.MAX_XATTR_SECTION_BYTES;

    private final UnsafeBuffer descriptor;
    private final ByteBuffer readBuffer;
    private final UnsafeBuffer readView;
    private final CRC32C crc = new CRC32C();

    private int phase;
    private int metaIndex;
    private int chunk = -1;
    private int block;
    private int segment;
    private int segmentEndBlock;

    private FileChannel channel;
    private int channelFile = -1;
    private FileChannel retired;
    private int retiredFile = -1;
    private boolean retiredCheck;
    private MappedByteBuffer map;
    private long mapStart;
    private long mapEnd;

    private boolean metadataOnly;
    private boolean checksumsOnly;
    /** A live clone: a file that changes under the read is counted, not fatal (it is copied again next pass). */
    private boolean live;
    private long changedFiles;
    private int lastChanged = -1;
    /** The file being read vanished (live): its blocks carry no piece. */
    private int vanishedFile = -1;
    private boolean prepared;
    private int preparedLength;
    private long preparedPosition;
    private int preparedCrc;
    private boolean preparedInBuffer;
    /** The buffer the prepared body is in (when {@link #preparedInBuffer}), and where in it. */
    private UnsafeBuffer preparedView;
    private int preparedFrom;
    /** The prepared body as a region of the file (when not in a buffer): its first byte in the file. */
    private long preparedStart;
    private long preparedMask;
    private int preparedBody;
    private boolean preparedSame;
    private long bytesOffered;
    private long holeBytes;
    private long sameBytes;
    /** The prepared block's data bytes (its present pieces): the body length unless it is compressed. */
    private int preparedRaw;
    private boolean preparedCompressed;
    /** zstd level the client asked for in COM_EXECUTE, 0 = no compression. */
    private int compressLevel;
    private BlockCompressor compressor;

    private final int pieceSize;
    private final PieceHasher hasher = new PieceHasher();
    private final HaveSet have;
    /** Piece hashes the donor computed before COM_HAVE arrived (protocol 4), or null. */
    private final HashAhead ahead;
    /** Where blocks of scattered pieces are gathered (made on first use: a block's size). */
    private ByteBuffer gather;
    private UnsafeBuffer gatherView;

    /** The native seam, when it reads a whole small file in one call ({@link NativeFs#readWholeFile}). */
    private final NativeFs fs = NativeFs.instance();
    private final long readAddress;
    private final long[] readStat = new long[3];
    private byte[] rootPrefix;
    /** Cleared when the seam says it cannot: the channel path from then on. */
    private boolean nativeReads = true;

    private DataExtentCursor extents;
    private int extentsFile = -1;
    private boolean extentValid;
    private long lastQuery;

    DonorCursor(final FileTreeDonor donor, final boolean master, final ChunkQueue queue)
    {
        this.donor = donor;
        this.root = donor.root();
        this.manifest = donor.manifest();
        this.plan = donor.plan();
        this.queue = queue;
        this.checksum = donor.settings().checksum();
        this.smallBlock = donor.settings().smallBlock();
        this.readBuffer = ByteBuffer.allocateDirect(Math.max(smallBlock, 4096));
        this.readView = new UnsafeBuffer(readBuffer);
        this.readAddress = readView.addressOffset();
        this.descriptor = new UnsafeBuffer(ByteBuffer.allocateDirect(master ? DESCRIPTOR_CAPACITY : 4096));
        this.phase = master ? PHASE_META_START : PHASE_DATA;
        this.stream = master ? donor.stream() : null;
        this.pieceSize = DescriptorFlyweight.pieceSize(plan.blockSize());
        this.have = donor.have();
        this.ahead = this.have == null ? null : donor.ahead();
    }

    /**
     * The locator {@link FileTreeDonor#begin} returned for this task: only calls that pass it back use this cursor.
     */
    void locator(final Locator l)
    {
        locator = l;
    }

    Locator locator()
    {
        return locator;
    }

    /**
     * Send the manifest only, then report done (resume compares manifests before asking for data).
     */
    void metadataOnly()
    {
        metadataOnly = true;
    }

    /**
     * Send each block's CRC32C in its descriptor and no bytes (verify).
     */
    void checksumsOnly()
    {
        checksumsOnly = true;
    }

    /**
     * A live clone: count files that change under the read instead of failing with FILE_CHANGED.
     */
    void live()
    {
        live = true;
    }

    /**
     * @return files this task found changed after (or while) reading them; each is counted once.
     */
    long changedFiles()
    {
        return changedFiles;
    }

    /**
     * A change under the read: fatal unless live, where it is counted (once per file) and the copy goes on.
     */
    private void onChanged(final Manifest.Entry entry, final String what)
    {
        if (!live)
        {
            throw changed(entry, what);
        }
        if (lastChanged != entry.index)
        {
            lastChanged = entry.index;
            changedFiles++;
        }
    }

    /**
     * Compress block bodies at zstd {@code level} where that makes them shorter (COM_EXECUTE flag COMPRESS).
     */
    void compress(final int level)
    {
        compressLevel = level;
    }

    /**
     * @return what compression did so far: blocks tried, blocks sent compressed, bytes in, bytes out (compressed or
     *     as they were), nanoseconds compressing; all 0 without compression.
     */
    long[] compressionStats()
    {
        final BlockCompressor c = compressor;
        return c == null ? new long[5] :
            new long[]{ c.blocksTried(), c.blocksCompressed(), c.bytesIn(), c.bytesOut(), c.nanos() };
    }

    /**
     * @return chunks this master has taken while its manifest streamed (they are sent in order from 0).
     */
    int streamedChunksTaken()
    {
        return nextStreamChunk;
    }

    long bytesOffered()
    {
        return bytesOffered;
    }

    /**
     * @return bytes of the blocks offered so far that were holes and did not travel.
     */
    long holeBytes()
    {
        return holeBytes;
    }

    /**
     * @return bytes of the blocks offered so far that the recipient already had (their pieces' hashes matched).
     */
    long sameBytes()
    {
        return sameBytes;
    }

    int copy(final CopyCallback callback)
    {
        closeRetired();
        for (int budget = OFFERS_PER_CALL; budget > 0; budget--)
        {
            switch (phase)
            {
                case PHASE_META_START:
                {
                    // a streamed manifest's counts are not known yet: they come in the STATE that ends it
                    final int len = stream != null ?
                        DescriptorFlyweight.encodeState(descriptor, 0, Stage.METADATA, 0, 0, 0, plan.blockSize()) :
                        DescriptorFlyweight.encodeState(descriptor, 0, Stage.METADATA, manifest.size(),
                        plan.chunkCount(), manifest.totalBytes(), plan.blockSize());
                    if (!callback.onDescriptor(descriptor, 0, len))
                    {
                        return DonorStorage.COPY_MORE;
                    }
                    phase = stream != null ? PHASE_STREAM : PHASE_META_FILES;
                    Trace.mark("donor: manifest of " + manifest.size() + " entries starts" +
                        (stream != null ? " (streamed)" : ""));
                    break;
                }
                case PHASE_STREAM:
                {
                    final int result = stream(callback);
                    if (result != 0)
                    {
                        return result;
                    }
                    break;
                }
                case PHASE_META_FILES:
                {
                    if (metaIndex == manifest.size())
                    {
                        phase = PHASE_META_END;
                        break;
                    }
                    final int len = manifest.encodeFile(descriptor, 0, metaIndex);
                    if (!callback.onDescriptor(descriptor, 0, len))
                    {
                        return DonorStorage.COPY_MORE;
                    }
                    metaIndex++;
                    break;
                }
                case PHASE_META_END:
                {
                    final int len = DescriptorFlyweight.encodeState(descriptor, 0, Stage.FILE_COPY, manifest.size(),
                        plan.chunkCount(), manifest.totalBytes(), plan.blockSize());
                    if (!callback.onDescriptor(descriptor, 0, len))
                    {
                        return DonorStorage.COPY_MORE;
                    }
                    phase = metadataOnly && !checksumsOnly ? PHASE_DONE : PHASE_DATA;
                    Trace.mark("donor: manifest sent");
                    break;
                }
                case PHASE_DATA:
                {
                    final int result = offerBlock(callback);
                    if (result != 0)
                    {
                        return result;
                    }
                    break;
                }
                default:
                    return DonorStorage.COPY_DONE;
            }
        }
        return DonorStorage.COPY_MORE;
    }

    /**
     * One step of a streamed manifest: announce the next entry the scan published, or send a block of the chunk in
     * hand, or start the next chunk that is closed within what was announced, or end the manifest once the scan is
     * done and every entry is out. Blocks go while fewer than {@link #STREAM_WINDOW} are unacknowledged, entries
     * otherwise, so the recipient writes early files while it still learns later ones.
     *
     * @return 0 to go on, or a COPY_* result to return (COPY_MORE with nothing offered: nothing to send yet; the
     *     session asks again on its next tick).
     */
    private int stream(final CopyCallback callback)
    {
        final FerryException failed = stream.failure();
        if (failed != null)
        {
            throw failed;
        }
        final int published = stream.published();
        // a block while the window has room, else an entry: data at the recipient's pace, the manifest in between
        final boolean room = blocksAccepted - donor.streamAckedBlocks() < STREAM_WINDOW;
        if (room && dataReady())
        {
            if (chunk < 0)
            {
                chunk = nextStreamChunk++;
                block = 0;
                segment = plan.segmentOf(chunk, 0);
                segmentEndBlock = plan.segmentFirstBlock(segment) + plan.segmentBlocks(segment);
            }
            return offerBlock(callback);
        }
        if (metaIndex < published)
        {
            final int len = manifest.encodeFile(descriptor, 0, metaIndex);
            if (!callback.onDescriptor(descriptor, 0, len))
            {
                return DonorStorage.COPY_MORE;
            }
            metaIndex++;
            return 0;
        }
        if (stream.done() && metaIndex == manifest.size())
        {
            // the manifest is whole: end it now, so the workers attach; the chunk in hand goes on after it
            if (queue == null)
            {
                queue = donor.streamEnded(nextStreamChunk); // the chunk in hand is below it
            }
            final int len = DescriptorFlyweight.encodeState(descriptor, 0, Stage.FILE_COPY, manifest.size(),
                plan.chunkCount(), manifest.totalBytes(), plan.blockSize());
            if (!callback.onDescriptor(descriptor, 0, len))
            {
                return DonorStorage.COPY_MORE;
            }
            phase = PHASE_DATA;
            Trace.mark("donor: streamed manifest sent, " + manifest.size() + " entries; " + nextStreamChunk + " of " +
                plan.chunkCount() + " chunks taken with it");
            return 0;
        }
        return DonorStorage.COPY_MORE; // nothing to send until the scan or the acknowledgements move
    }

    /**
     * @return whether a block can go now while the manifest streams: the chunk in hand has blocks left, or the next
     *     chunk is closed within the entries announced (so the recipient, laying out what it was told, knows it
     *     whole), its files are announced, and its racy window has passed.
     */
    private boolean dataReady()
    {
        if (chunk >= 0)
        {
            return true;
        }
        final int c = nextStreamChunk;
        if (c >= plan.closedChunks())
        {
            return false;
        }
        final int first = plan.firstSegment(c);
        final int segments = plan.segmentCount(c);
        if (plan.segmentFile(first + segments - 1) >= metaIndex)
        {
            return false; // its last file is not announced yet
        }
        final boolean closedWithin = c + 1 < plan.chunkCount() && plan.segmentFile(plan.firstSegment(c + 1)) < metaIndex ||
            segments >= donor.settings().filesPerChunk() || plan.chunkBytes(c) >= donor.settings().chunkSize() ||
            manifest.size(plan.segmentFile(first)) >= donor.settings().chunkSize();
        return closedWithin && stream.readable(c, System.nanoTime());
    }

    /**
     * @return 0 to go on, or a COPY_* result to return.
     */
    private int offerBlock(final CopyCallback callback)
    {
        if (chunk < 0)
        {
            chunk = queue.reserve();
            if (chunk < 0)
            {
                retire(false);
                closeRetired();
                phase = PHASE_DONE;
                return DonorStorage.COPY_DONE;
            }
            block = queue.startBlock(chunk);
            segment = plan.segmentOf(chunk, block);
            segmentEndBlock = plan.segmentFirstBlock(segment) + plan.segmentBlocks(segment);
        }
        final int file = plan.segmentFile(segment);
        final long position = plan.segmentOffset(segment) + (long)(block - plan.segmentFirstBlock(segment)) * plan.blockSize();
        final long segmentEnd = plan.segmentOffset(segment) + plan.segmentLength(segment);
        final int length = (int)Math.min(plan.blockSize(), segmentEnd - position);
        if (!prepared)
        {
            prepare(file, position, length);
        }
        final boolean last = block + 1 == plan.chunkBlocks(chunk);
        final int flags = (last ? DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK : 0) |
            (checksum || checksumsOnly ? DescriptorFlyweight.DATA_FLAG_CRC : 0) |
            (checksumsOnly ? DescriptorFlyweight.DATA_FLAG_NO_BODY : 0) |
            (preparedSame ? DescriptorFlyweight.DATA_FLAG_SAME : 0) |
            (preparedCompressed ? DescriptorFlyweight.DATA_FLAG_ZSTD : 0);
        final int descLength = DescriptorFlyweight.encodeData(
            descriptor, 0, file, chunk, block, position, length, preparedCrc, flags, preparedMask, preparedBody);
        final boolean accepted = checksumsOnly ? callback.onDescriptor(descriptor, 0, descLength) :
            preparedInBuffer ? callback.onBuffer(descriptor, 0, descLength, preparedView, preparedFrom, preparedBody) :
            callback.onFileRegion(descriptor, 0, descLength, channel, preparedStart, preparedBody);
        if (!accepted)
        {
            return DonorStorage.COPY_MORE;
        }
        prepared = false;
        blocksAccepted++;
        if (!checksumsOnly)
        {
            bytesOffered += preparedRaw;
            if (preparedSame)
            {
                sameBytes += length - preparedRaw;
            }
            else
            {
                holeBytes += length - preparedRaw;
            }
        }
        block++;
        if (block == segmentEndBlock)
        {
            retire(position + length == manifest.size(file) || last);
            if (!last)
            {
                segment++;
                segmentEndBlock = plan.segmentFirstBlock(segment) + plan.segmentBlocks(segment);
            }
        }
        if (last)
        {
            chunk = -1;
        }
        return preparedInBuffer || checksumsOnly || preparedBody == 0 ? 0 : DonorStorage.COPY_MORE;
    }

    private void prepare(final int file, final long position, final int length)
    {
        final Manifest.Entry entry = manifest.entry(file);
        if (!checksumsOnly && have != null && have.isWhole(file))
        {
            // the recipient has this file as announced: a descriptor with no piece, and the file is never opened
            preparedPosition = position;
            preparedLength = length;
            preparedCrc = 0;
            preparedMask = 0;
            preparedBody = 0;
            preparedSame = true;
            preparedInBuffer = true;
            preparedView = readView;
            preparedFrom = 0;
            preparedRaw = 0;
            preparedCompressed = false;
            prepared = true;
            return;
        }
        boolean wholeRead = false;
        if (channelFile != file && vanishedFile != file)
        {
            retire(false);
            wholeRead = !checksumsOnly && nativeReads && position == 0 && length == entry.size &&
                length <= smallBlock && !entry.isSparse() && readWhole(entry, length);
            if (!wholeRead && vanishedFile != file)
            {
                open(entry);
            }
        }
        preparedPosition = position;
        preparedLength = length;
        preparedCrc = 0;
        preparedSame = false;
        if (vanishedFile == file)
        {
            emptyBlock(); // gone under a live clone: the next pass removes it
            prepared = true;
            return;
        }
        try
        {
            if (checksumsOnly)
            {
                prepareChecksumOnly(entry, position, length);
            }
            else
            {
                preparePieces(entry, position, length, wholeRead);
            }
            preparedRaw = preparedBody;
            preparedCompressed = false;
            if (compressLevel > 0 && !checksumsOnly)
            {
                compressPrepared(entry);
            }
        }
        catch (final FerryException ex)
        {
            if (!live || ex.code() != ErrorCode.FILE_CHANGED)
            {
                throw ex;
            }
            onChanged(entry, ex.getMessage()); // live: this block carries nothing; the next pass copies the file again
            preparedSame = false;
            preparedCrc = 0;
            emptyBlock();
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot read " + entry.path() + ": " + ex.getMessage(), ex);
        }
        prepared = true;
    }

    private void emptyBlock()
    {
        preparedMask = 0;
        preparedBody = 0;
        preparedRaw = 0;
        preparedCompressed = false;
        preparedInBuffer = true;
        preparedView = readView;
        preparedFrom = 0;
    }

    /**
     * Replace the prepared body (the present pieces, in a buffer or a region of the file) by one zstd frame of it
     * when that is shorter (DATA flag 16); the CRC32C then covers the compressed bytes. A block that does not shrink,
     * or is too short to gain, stays as it is (and keeps sendfile when it is a region).
     */
    private void compressPrepared(final Manifest.Entry entry) throws IOException
    {
        if (preparedBody < MIN_COMPRESS_BYTES)
        {
            return;
        }
        if (compressor == null)
        {
            compressor = new BlockCompressor(compressLevel, plan.blockSize());
        }
        final int n;
        if (preparedInBuffer)
        {
            n = compressor.compress(preparedView.byteBuffer(), preparedFrom, preparedBody);
        }
        else
        {
            mapFor(entry, preparedStart, preparedBody);
            try
            {
                n = compressor.compress(map, (int)(preparedStart - mapStart), preparedBody);
            }
            catch (final InternalError ex)
            {
                throw changed(entry, "it was truncated while being read"); // SIGBUS under the map
            }
        }
        if (n < 0)
        {
            return;
        }
        preparedCompressed = true;
        preparedInBuffer = true;
        preparedView = compressor.view();
        preparedFrom = 0;
        preparedBody = n;
        if (checksum)
        {
            final ByteBuffer b = compressor.buffer();
            b.limit(n).position(0);
            crc.reset();
            crc.update(b);
            preparedCrc = (int)crc.getValue();
        }
    }

    /**
     * Verify: the CRC32C of the whole block (holes read as zeros), and no body.
     */
    private void prepareChecksumOnly(final Manifest.Entry entry, final long position, final int length)
        throws IOException
    {
        preparedMask = DescriptorFlyweight.ALL_PIECES;
        preparedBody = length;
        preparedInBuffer = true;
        preparedView = readView;
        preparedFrom = 0;
        if (length <= smallBlock)
        {
            readBlock(entry, position, length);
            crc.reset();
            crc.update(readBuffer);
            preparedCrc = (int)crc.getValue();
        }
        else
        {
            preparedCrc = regionCrc(entry, position, length);
        }
    }

    /**
     * Which pieces of the block travel: not those in holes (data extents of a sparse file, and pieces of zeros in
     * blocks that are read or in sparse files), nor those whose hash matches what the recipient has. The body is the
     * present pieces in order: a region of the file when they are contiguous and large, else bytes in a buffer.
     */
    /**
     * @param wholeRead the block is a whole small file already in {@link #readBuffer} ({@link #readWhole}).
     */
    private void preparePieces(final Manifest.Entry entry, final long position, final int length,
        final boolean wholeRead) throws IOException
    {
        final long all = DescriptorFlyweight.allPieces(length, pieceSize);
        final long[] hashes = have == null ? null : have.hashes(entry.index);
        final int hashed = hashes == null ? 0 : have.pieces(entry.index);
        final long firstPiece = position / pieceSize;
        final boolean diff = hashed > firstPiece;
        // pieces the recipient has a version of are decided by hash alone: a hole or zeros here may be data there
        final long compared = !diff ? 0 : hashed - firstPiece >= 64 ? -1L : (1L << (hashed - firstPiece)) - 1;
        // past its hashes the recipient's copy is empty (a hole stays a hole), unless the donor dropped hashes
        final boolean unknownPast = have != null && have.isTruncated(entry.index);
        final long holesAllowed = unknownPast ? 0 : ~compared;
        long mask = all;
        if (entry.isSparse() && holesAllowed != 0)
        {
            mask &= extentMask(entry, position, length) | ~holesAllowed;
        }
        final boolean small = length <= smallBlock;
        final boolean zeroCheck = small || entry.isSparse();
        long same = 0;
        ByteBuffer source = null;
        int base = 0;
        final boolean shrunk = live && !small && mask != 0 && channel.size() < position + length;
        final long[] early = diff && ahead != null && !small && !zeroCheck && !shrunk ?
            ahead.covering(entry.index, firstPiece, DescriptorFlyweight.pieceCount(length, pieceSize)) : null;
        if (early != null)
        {
            // hashed ahead, after the snapshot like any read here: compared without mapping the block again
            for (int i = 0, n = DescriptorFlyweight.pieceCount(length, pieceSize); i < n; i++)
            {
                final long piece = firstPiece + i;
                final int at = (int)(piece % HashAhead.UNIT_PIECES) << 1; // the unit's hashes start at its first piece
                if ((mask & (1L << i)) != 0 && piece < hashed && early[at] == hashes[(int)piece << 1] &&
                    early[at + 1] == hashes[((int)piece << 1) + 1])
                {
                    mask &= ~(1L << i);
                    same |= 1L << i;
                }
            }
        }
        else if (mask != 0 && (small || diff || zeroCheck || shrunk))
        {
            if (small)
            {
                if (!wholeRead)
                {
                    readBlock(entry, position, length);
                }
                source = readBuffer;
            }
            else if (shrunk)
            {
                // the file lost bytes under a live clone: what is left, the rest as zeros (copied again next pass)
                onChanged(entry, "it shrank");
                ensureGather();
                readInto(gather, length, position);
                source = gather;
                base = 0;
            }
            else
            {
                mapFor(entry, position, length);
                source = map;
                base = (int)(position - mapStart);
            }
            source.limit(source.capacity()); // absolute reads check the limit, which a CRC over the map left anywhere
            try
            {
                for (int i = 0, n = DescriptorFlyweight.pieceCount(length, pieceSize); i < n; i++)
                {
                    if ((mask & (1L << i)) == 0)
                    {
                        continue;
                    }
                    final int from = base + i * pieceSize;
                    final int len = Math.min(pieceSize, length - i * pieceSize);
                    if (zeroCheck && (holesAllowed & (1L << i)) != 0 && Zeros.isZero(source, from, len))
                    {
                        mask &= ~(1L << i);
                    }
                    else if (diff && hasher.hash(source, from, len).matches(hashes, hashed, firstPiece + i))
                    {
                        mask &= ~(1L << i);
                        same |= 1L << i;
                    }
                }
            }
            catch (final InternalError ex)
            {
                onChanged(entry, "it was truncated while being read"); // SIGBUS under the map
                emptyBlock();
                return;
            }
        }
        preparedMask = mask == all ? DescriptorFlyweight.ALL_PIECES : mask;
        preparedSame = same != 0;
        preparedBody = (int)DescriptorFlyweight.maskedLength(mask, length, pieceSize);
        if (mask == 0)
        {
            preparedInBuffer = true;
            preparedView = readView;
            preparedFrom = 0;
            return;
        }
        final int lowest = Long.numberOfTrailingZeros(mask);
        final long run = mask >>> lowest;
        if ((run & (run + 1)) == 0)
        {
            // contiguous: the body is one span of the block
            final int from = lowest * pieceSize;
            if (source == gather && gather != null)
            {
                prepareFromBuffer(gather, gatherView, from);
            }
            else if (small)
            {
                prepareFromBuffer(readBuffer, readView, from);
            }
            else
            {
                preparedInBuffer = false;
                preparedStart = position + from;
                if (checksum)
                {
                    preparedCrc = regionCrc(entry, preparedStart, preparedBody);
                }
            }
            return;
        }
        // scattered pieces: gather them
        if (source == null)
        {
            mapFor(entry, position, length);
            source = map;
            base = (int)(position - mapStart);
        }
        if (source == gather)
        {
            // compact in place: every piece moves down or stays, never up
            int at = 0;
            for (int i = 0, n = DescriptorFlyweight.pieceCount(length, pieceSize); i < n; i++)
            {
                if ((mask & (1L << i)) != 0)
                {
                    final int len = Math.min(pieceSize, length - i * pieceSize);
                    for (int k = 0; k < len; k++)
                    {
                        gather.put(at + k, gather.get(i * pieceSize + k));
                    }
                    at += len;
                }
            }
            finishGathered(at);
            return;
        }
        ensureGather();
        int at = 0;
        try
        {
            for (int i = 0, n = DescriptorFlyweight.pieceCount(length, pieceSize); i < n; i++)
            {
                if ((mask & (1L << i)) != 0)
                {
                    final int len = Math.min(pieceSize, length - i * pieceSize);
                    gatherView.putBytes(at, source, base + i * pieceSize, len);
                    at += len;
                }
            }
        }
        catch (final InternalError ex)
        {
            throw changed(entry, "it was truncated while being read");
        }
        finishGathered(at);
    }

    private void finishGathered(final int at)
    {
        preparedInBuffer = true;
        preparedView = gatherView;
        preparedFrom = 0;
        if (checksum)
        {
            crc.reset();
            gather.limit(at).position(0);
            crc.update(gather);
            preparedCrc = (int)crc.getValue();
        }
    }

    /**
     * The prepared body is {@code preparedBody} bytes of {@code buffer} (seen through {@code view}) from {@code from}.
     */
    private void prepareFromBuffer(final ByteBuffer buffer, final UnsafeBuffer view, final int from)
    {
        preparedInBuffer = true;
        preparedView = view;
        preparedFrom = from;
        if (checksum)
        {
            crc.reset();
            buffer.limit(from + preparedBody).position(from);
            crc.update(buffer);
            preparedCrc = (int)crc.getValue();
        }
    }

    private void ensureGather()
    {
        if (gather == null)
        {
            gather = ByteBuffer.allocateDirect(plan.blockSize());
            gatherView = new UnsafeBuffer(gather);
        }
    }

    /**
     * Read up to {@code length} bytes at {@code position} into {@code b} from 0; what the file no longer has is zeros.
     *
     * @return false when the file ended before {@code length} bytes.
     */
    private boolean readInto(final ByteBuffer b, final int length, final long position) throws IOException
    {
        b.clear().limit(length);
        boolean whole = true;
        while (b.hasRemaining() && whole)
        {
            whole = channel.read(b, position + b.position()) >= 0;
        }
        while (b.hasRemaining())
        {
            b.put((byte)0); // live: copied again next pass
        }
        b.flip();
        return whole;
    }

    private void readBlock(final Manifest.Entry entry, final long position, final int length) throws IOException
    {
        if (!readInto(readBuffer, length, position))
        {
            onChanged(entry, shorter(entry));
        }
    }

    /**
     * @return the pieces of {@code [position, position + length)} that the file system's data extents touch (every
     *     piece if it has no hole support). Blocks of one file usually come in offset order, so the extent cursor
     *     only moves forward; a block before the last one re-opens it.
     */
    private long extentMask(final Manifest.Entry entry, final long position, final int length) throws IOException
    {
        if (extents == null)
        {
            extents = NativeFs.instance().newDataExtentCursor();
        }
        if (extentsFile != entry.index || position < lastQuery)
        {
            extents.open(PathBytes.cPath(PathBytes.resolve(root, entry.pathBytes)));
            extentsFile = entry.index;
            extentValid = extents.next();
        }
        lastQuery = position;
        final long limit = position + length;
        while (extentValid && extents.offset() + extents.length() <= position)
        {
            extentValid = extents.next();
        }
        long mask = 0;
        while (extentValid && extents.offset() < limit)
        {
            final long start = Math.max(position, extents.offset());
            final long end = Math.min(limit, extents.offset() + extents.length());
            final int first = (int)((start - position) / pieceSize);
            final int last = (int)((end - 1 - position) / pieceSize);
            mask |= (last >= 63 ? -1L : (1L << (last + 1)) - 1) & ~((1L << first) - 1);
            if (extents.offset() + extents.length() > limit)
            {
                break; // it goes on into the next block
            }
            extentValid = extents.next();
        }
        return mask;
    }

    private void mapFor(final Manifest.Entry entry, final long position, final int length) throws IOException
    {
        if (map == null || position < mapStart || position + length > mapEnd)
        {
            unmap();
            final long segmentEnd = plan.segmentOffset(segment) + plan.segmentLength(segment);
            mapStart = position;
            mapEnd = Math.min(segmentEnd, position + MAP_WINDOW);
            if (channel.size() < mapEnd)
            {
                throw changed(entry, shorter(entry));
            }
            map = channel.map(FileChannel.MapMode.READ_ONLY, mapStart, mapEnd - mapStart);
        }
    }

    private int regionCrc(final Manifest.Entry entry, final long position, final int length) throws IOException
    {
        mapFor(entry, position, length);
        try
        {
            final int from = (int)(position - mapStart);
            map.limit(from + length).position(from);
            crc.reset();
            crc.update(map);
            return (int)crc.getValue();
        }
        catch (final InternalError ex)
        {
            // SIGBUS: the file was truncated under the map
            throw changed(entry, "it was truncated while being read");
        }
    }

    private void open(final Manifest.Entry entry)
    {
        final Path path = PathBytes.resolve(root, entry.pathBytes);
        try
        {
            channel = FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            onChanged(entry, "it was deleted");
            vanishedFile = entry.index; // live: its blocks carry nothing; the next pass removes it
            return;
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot open donor file " + entry.path() + ": " + ex, ex);
        }
        channelFile = entry.index;
        // no stat here: the check when the segment is retired (after its last block was read) catches any change
        // since the snapshot, at one stat per file instead of two
    }

    /**
     * A whole small file into {@link #readBuffer} in one native call ({@link NativeFs#readWholeFile}), checked
     * against its snapshot from the open file right after the read: the check {@link #checkUnchanged} makes by path
     * when a channel is retired, made here before the block is offered.
     *
     * @return true if the block's bytes are in the buffer; false if the file vanished (live: {@link #vanishedFile}
     *     is set) or the seam cannot (it turns {@link #nativeReads} off and the caller opens a channel).
     */
    private boolean readWhole(final Manifest.Entry entry, final int length)
    {
        if (rootPrefix == null)
        {
            rootPrefix = PathBytes.prefix(root);
        }
        final int n;
        try
        {
            n = fs.readWholeFile(PathBytes.cPath(rootPrefix, entry.pathBytes), readAddress, length, readStat);
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            onChanged(entry, "it was deleted");
            vanishedFile = entry.index; // live: its blocks carry nothing; the next pass removes it
            return false;
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot read donor file " + entry.path() + ": " + ex.getMessage(), ex);
        }
        if (n < 0)
        {
            nativeReads = false;
            return false;
        }
        if (readStat[NativeFs.READ_TYPE] != EntryStat.S_IFREG)
        {
            onChanged(entry, "it is no longer a regular file");
            readView.setMemory(0, length, (byte)0); // live: copied again next pass
        }
        else if (n < length)
        {
            onChanged(entry, shorter(entry));
            readView.setMemory(n, length - n, (byte)0); // live: copied again next pass
        }
        else
        {
            checkAgainstSnapshot(entry, readStat[NativeFs.READ_SIZE], readStat[NativeFs.READ_MTIME]);
        }
        readBuffer.clear().limit(length);
        return true;
    }

    private void checkUnchanged(final Manifest.Entry entry)
    {
        final Path path = PathBytes.resolve(root, entry.pathBytes);
        try
        {
            final BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            checkAgainstSnapshot(entry, a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
        }
        catch (final IOException ex)
        {
            onChanged(entry, "it can no longer be read (" + ex.getMessage() + ")");
        }
    }

    /**
     * The size and mtime a file has after its read against the snapshot's: a difference is a change under the read.
     */
    private void checkAgainstSnapshot(final Manifest.Entry entry, final long size, final long mtimeNanos)
    {
        if (size != entry.size)
        {
            onChanged(entry, "its size went from " + entry.size + " to " + size + " bytes");
        }
        else if (mtimeNanos != entry.mtimeNanos)
        {
            onChanged(entry, "its modification time changed");
        }
    }

    private static String shorter(final Manifest.Entry entry)
    {
        return "it is shorter than the " + entry.size + " bytes it had at the snapshot";
    }

    private static FerryException changed(final Manifest.Entry entry, final String what)
    {
        return new FerryException(ErrorCode.FILE_CHANGED, "donor file '" + entry.path() + "' changed during the clone: " +
            what + "; refusing to ship a torn copy");
    }

    /**
     * Stop using the current channel; it is closed at the start of the next copy call, when any region offered from
     * it has been sent.
     */
    private void retire(final boolean checkAfter)
    {
        unmap();
        if (channel != null)
        {
            closeRetired();
            retired = channel;
            retiredFile = channelFile;
            retiredCheck = checkAfter;
            channel = null;
            channelFile = -1;
        }
    }

    private void closeRetired()
    {
        if (retired != null)
        {
            final FileChannel c = retired;
            retired = null;
            try
            {
                c.close();
            }
            catch (final IOException ignore)
            {
                // read-only channel: nothing to lose
            }
            if (retiredCheck)
            {
                checkUnchanged(manifest.entry(retiredFile));
            }
        }
    }

    private void unmap()
    {
        if (map != null)
        {
            IoUtil.unmap(map);
            map = null;
        }
    }

    void close()
    {
        unmap();
        if (compressor != null)
        {
            compressor.close();
            compressor = null;
        }
        if (extents != null)
        {
            extents.close();
            extents = null;
            extentsFile = -1;
        }
        retiredCheck = false;
        closeRetired();
        if (channel != null)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignore)
            {
                // read-only channel
            }
            channel = null;
        }
        phase = PHASE_DONE;
    }

}
