package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicReferenceArray;

import org.agrona.collections.Int2ObjectHashMap;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.ApplyData;
import dev.ferry.core.spi.Stage;

import static dev.ferry.engine.recipient.RecipientFiles.io;

/**
 * The file copy stage of the recipient: checks each DATA block against the manifest (an announced regular file, inside
 * its size, the length it carries) and its CRC32C, then writes it at its offset with a positional write. A file is
 * opened at its first block (created then) and closed after its last block or the last block of its chunk; each task
 * keeps its own open files, so tasks never share a channel.
 * <p>
 * {@link #apply} is called by apply workers: calls for one task are never concurrent, calls for different tasks may
 * be. {@link #force} is called by the clone's driver at journal checkpoints, {@link #close} at the end.
 */
final class BlockWriter
{
    private final ManifestReceiver manifest;
    private final RecipientJournal journal;
    private final AtomicReferenceArray<Int2ObjectHashMap<OpenFile>> taskFiles =
        new AtomicReferenceArray<>(LocatorCodec.MAX_TASKS);
    /** Direct I/O for large files, or null ({@code --no-sync}: the page cache is what the user asked for). */
    private final DirectWrites direct;
    /** zstd contexts with their output buffer, one per task (apply worker), made at its first compressed block. */
    private final AtomicReferenceArray<BlockInflater> inflaters = new AtomicReferenceArray<>(LocatorCodec.MAX_TASKS);

    /** What was written into files kept in place for a block diff: {file index, position, piece mask, length}. */
    private final java.util.Queue<long[]> haveWrites = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** Whether {@link #haveWrites} records: only for a live pass that another pass follows (the cache's input). */
    private volatile boolean trackHaveWrites;

    /**
     * @return the writes into compared ({@code have}) files so far, for {@link CopyHashCache}; drained by it.
     */
    java.util.Queue<long[]> haveWrites()
    {
        return haveWrites;
    }

    void trackHaveWrites(final boolean v)
    {
        trackHaveWrites = v;
    }

    /**
     * Whether the target was empty (a fresh clone, not a resume or update): every file is then new, so one whose
     * last byte was written has its length ({@link TargetEntries#LENGTH_WRITTEN}); in a copy an old, longer file
     * could be under the same name.
     */
    private volatile boolean freshTarget;

    void freshTarget(final boolean v)
    {
        freshTarget = v;
    }

    /**
     * Which new files a single block may write whole and finish (mtime on the open file, see
     * {@link FileSyncStage#writerRestores}), or null: set with {@link #freshTarget} once the target's modes are known
     * (a file such a block holds is never in a task's open files: it is opened and closed by that one block).
     */
    private volatile java.util.function.Predicate<TargetEntry> finishesWhole;

    void finishesWhole(final java.util.function.Predicate<TargetEntry> p)
    {
        finishesWhole = p;
    }

    private final dev.ferry.engine.fs.NativeFs fs = dev.ferry.engine.fs.NativeFs.instance();
    private final java.util.concurrent.atomic.LongAdder wholeFiles = new java.util.concurrent.atomic.LongAdder();

    /**
     * @return how many files one block wrote whole, with their mtime ({@link #finishesWhole}), so far.
     */
    long wholeFiles()
    {
        return wholeFiles.sum();
    }

    /** The copy's hash store being built, or null: each written piece is hashed into it from the block buffer. */
    private volatile HashStore.Builder store;

    void store(final HashStore.Builder b)
    {
        store = b;
    }

    BlockWriter(final ManifestReceiver manifest, final RecipientJournal journal, final DirectWrites direct)
    {
        this.manifest = manifest;
        this.journal = journal;
        this.direct = direct;
    }

    /**
     * A file one task has open: an ordinary channel, opened when first needed, and for a large file a direct one
     * ({@link DirectWrites}) that takes every aligned run.
     */
    private static final class OpenFile
    {
        private final java.nio.file.Path path;
        private final DirectWrites policy;
        private FileChannel direct;
        private FileChannel buffered;

        OpenFile(final java.nio.file.Path path, final DirectWrites policy, final long size)
        {
            this.path = path;
            this.policy = policy;
            this.direct = policy == null ? null : policy.open(path, size);
        }

        FileChannel buffered() throws IOException
        {
            if (buffered == null)
            {
                buffered = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
            }
            return buffered;
        }

        /** Write {@code count} bytes of {@code data} from {@code from} at file offset {@code position}. */
        void write(final ApplyData data, final long position, final int from, final int count) throws IOException
        {
            int n = 0;
            if (direct != null && data instanceof BufferApplyData)
            {
                final BufferApplyData b = (BufferApplyData)data;
                n = DirectWrites.directPrefix(position,
                    org.agrona.BufferUtil.address(b.buffer()) + b.offset() + from, count);
                if (n > 0 && !writeDirect(b, position, from, n))
                {
                    n = 0; // the file system refused the direct write: everything through the page cache
                }
            }
            if (n < count)
            {
                data.writeTo(buffered(), position + n, from + n, count - n);
            }
        }

        /**
         * One write for the whole run: a direct write waits for the device, so fewer and larger is better.
         *
         * @return false if the file system refused it (EINVAL, before any byte was written): direct writes are then
         *     off for this clone.
         */
        private boolean writeDirect(final BufferApplyData b, final long position, final int from, final int n)
            throws IOException
        {
            final ByteBuffer buffer = b.buffer();
            buffer.limit(b.offset() + from + n).position(b.offset() + from);
            long at = position;
            try
            {
                while (buffer.hasRemaining())
                {
                    at += direct.write(buffer, at);
                }
            }
            catch (final IOException ex)
            {
                if (at != position || !String.valueOf(ex.getMessage()).contains("Invalid argument"))
                {
                    throw ex;
                }
                policy.refuse();
                direct.close();
                direct = null;
                return false;
            }
            DirectWrites.onWritten(n);
            return true;
        }

        void close() throws IOException
        {
            try
            {
                if (direct != null)
                {
                    direct.close();
                }
            }
            finally
            {
                if (buffered != null)
                {
                    buffered.close();
                }
            }
        }
    }

    /**
     * Apply a DATA descriptor with its bytes: the caller has already validated the descriptor flyweight.
     */
    void apply(final int task, final DescriptorFlyweight d, final ApplyData data)
    {
        // streaming first: the master sets the stage to FILE_COPY before it clears it, so a worker that sees it
        // cleared sees the new stage
        final boolean streaming = manifest.streaming();
        final int currentStage = manifest.stage();
        final TargetEntries es = manifest.entries();
        if (es == null || currentStage != Stage.FILE_COPY && !(currentStage == Stage.METADATA && streaming))
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "data before the manifest was complete");
        }
        final int index = d.fileIndex();
        final TargetEntry e = index >= 0 && index < es.size() ? es.get(index) : null;
        if (e == null || e.type != DescriptorFlyweight.FILE_REGULAR)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "data for file " + index + ", which is not an announced " +
                "regular file");
        }
        final long position = d.dataPosition();
        final int len = d.dataLength();
        final int pieceSize = DescriptorFlyweight.pieceSize(manifest.blockSize());
        if (len <= 0 || len > manifest.blockSize() || position > e.size - len)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block of " + len + " bytes at offset " + position +
                " does not fit '" + PathGuard.printable(e.path()) + "' of " + e.size + " bytes");
        }
        final int body = d.bodyLength();
        if (data == null || data.length() != body)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block for '" + PathGuard.printable(e.path()) +
                "' announced " + body + " bytes but carried " + (data == null ? 0 : data.length()));
        }
        final long mask = d.pieceMask() & DescriptorFlyweight.allPieces(len, pieceSize);
        final long masked = DescriptorFlyweight.maskedLength(mask, len, pieceSize);
        final boolean compressed = d.isCompressed();
        if (compressed && (body == 0 || body >= masked))
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "compressed block for '" +
                PathGuard.printable(e.path()) +
                "' carries " + body + " bytes for " + masked + " bytes of pieces: it must be shorter, and not empty");
        }
        if (!compressed && masked != body)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block for '" + PathGuard.printable(e.path()) +
                "' carries " + body + " bytes, but its piece mask " + Long.toHexString(d.pieceMask()) + " holds " +
                DescriptorFlyweight.maskedLength(mask, len, pieceSize));
        }
        if (body == 0)
        {
            return; // nothing to write (holes, or pieces the copy has): FILE SYNC gives the file its length
        }
        if (d.hasCrc())
        {
            final int crc = data.crc32c();
            if (crc != d.dataCrc())
            {
                throw new FerryException(ErrorCode.CHECKSUM_MISMATCH, "block " + d.dataBlock() + " of chunk " +
                    d.dataChunk() + " ('" + PathGuard.printable(e.path()) + "' at offset " + position + ") has CRC32C " +
                    Integer.toHexString(crc) + ", donor said " + Integer.toHexString(d.dataCrc()));
            }
        }
        final ApplyData plain = compressed ? inflate(task, d, e, data, (int)masked) : data;
        if (position == 0 && len == e.size && masked == len && writeWhole(task, index, e, plain, mask))
        {
            return;
        }
        Int2ObjectHashMap<OpenFile> files = taskFiles.get(task);
        if (files == null)
        {
            files = new Int2ObjectHashMap<>();
            taskFiles.set(task, files);
        }
        OpenFile ch = files.get(index);
        try
        {
            if (ch == null)
            {
                ch = new OpenFile(e.resolved(), direct, e.size);
                if (ch.direct == null)
                {
                    ch.buffered(); // created now, as before
                }
                files.put(index, ch);
            }
            if ((e.flags & DescriptorFlyweight.FILE_FLAG_SPARSE) != 0 && !e.have())
            {
                // a new file: its pages of zeros may stay holes (a file kept in place needs its zeros written)
                writeSparse(ch, plain, position, len, mask, pieceSize);
            }
            else
            {
                writePieces(ch, plain, position, len, mask, pieceSize);
                final int last = DescriptorFlyweight.pieceCount(len, pieceSize) - 1;
                if (freshTarget && position + len == e.size && (mask & (1L << last)) != 0)
                {
                    es.set(index, TargetEntries.LENGTH_WRITTEN, true); // its last byte is written: it has its length
                }
            }
            final HashStore.Builder hashes = store;
            if (hashes != null)
            {
                hashes.onWrite(task, index, position, len, mask, plain);
            }
            journal.markDirty(index);
            if (e.have() && trackHaveWrites)
            {
                haveWrites.offer(new long[] { index, position, mask, len });
            }
            if (position + len == e.size || d.isLastInChunk())
            {
                files.remove(index);
                ch.close();
            }
        }
        catch (final IOException ex)
        {
            throw io("cannot write '" + PathGuard.printable(e.path()) + "' at offset " + position, ex);
        }
    }

    /**
     * A new file that this one block holds whole (every piece, no holes to keep), written and given its mtime by the
     * native seam in one go ({@link dev.ferry.engine.fs.NativeFs#writeWholeFile}): no channel, and no FILE SYNC pass
     * by path for its times. A tree of tiny files is almost all such files.
     *
     * @return false if this file is not one, or the seam is pure Java: nothing was written.
     */
    private boolean writeWhole(final int task, final int index, final TargetEntry e, final ApplyData plain,
        final long mask)
    {
        final java.util.function.Predicate<TargetEntry> whole = finishesWhole;
        if (whole == null || !(plain instanceof BufferApplyData) ||
            !((BufferApplyData)plain).buffer().isDirect() ||
            (e.flags & DescriptorFlyweight.FILE_FLAG_SPARSE) != 0 || e.pathBytes.length == 0 || !whole.test(e))
        {
            return false;
        }
        final BufferApplyData b = (BufferApplyData)plain;
        final long address = org.agrona.BufferUtil.address(b.buffer()) + b.offset();
        try
        {
            if (!fs.writeWholeFile(e.cPath(), address, b.length(), e.mtimeNanos))
            {
                return false;
            }
        }
        catch (final IOException ex)
        {
            throw io("cannot write '" + PathGuard.printable(e.path()) + "'", ex);
        }
        final TargetEntries es = manifest.entries();
        es.set(index, TargetEntries.LENGTH_WRITTEN | TargetEntries.RESTORED, true);
        final HashStore.Builder hashes = store;
        if (hashes != null)
        {
            hashes.onWrite(task, index, 0, b.length(), mask, plain);
        }
        journal.markDirty(index);
        wholeFiles.increment();
        return true;
    }

    /**
     * The pieces of a compressed block (checked against its CRC32C already), in the task's own buffer: exactly the
     * bytes the piece mask holds, else the donor is broken or hostile (BAD_DESCRIPTOR), however much the frame says
     * it would make.
     */
    private ApplyData inflate(final int task, final DescriptorFlyweight d, final TargetEntry e, final ApplyData data,
        final int expected)
    {
        if (!(data instanceof BufferApplyData))
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "a compressed block outside a network clone");
        }
        BlockInflater inflater = inflaters.get(task);
        if (inflater == null)
        {
            inflater = new BlockInflater(manifest.blockSize());
            inflaters.set(task, inflater);
        }
        final int n = inflater.inflate((BufferApplyData)data, expected);
        if (n != expected)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "compressed block " + d.dataBlock() + " of chunk " +
                d.dataChunk() + " ('" + PathGuard.printable(e.path()) + "' at offset " + d.dataPosition() + ") " +
                (n < 0 ? "does not decompress to its " + expected + " bytes of pieces (zstd: " + inflater.error() + ")" :
                "decompresses to " + n + " bytes, its piece mask holds " + expected));
        }
        return inflater.plain(n);
    }

    /**
     * Write the pieces of {@code mask}, each run of consecutive pieces with one write: the body holds them in order.
     */
    private static void writePieces(final OpenFile ch, final ApplyData data, final long position, final int len,
        final long mask, final int pieceSize) throws IOException
    {
        final long all = DescriptorFlyweight.allPieces(len, pieceSize);
        if (mask == all)
        {
            ch.write(data, position, 0, data.length());
            return;
        }
        long rest = mask;
        int from = 0;
        while (rest != 0)
        {
            final int first = Long.numberOfTrailingZeros(rest);
            final long shifted = rest >>> first;
            final int runPieces = shifted == -1L ? 64 - first : Long.numberOfTrailingZeros(~shifted);
            final long start = (long)first * pieceSize;
            final int count = (int)Math.min((long)runPieces * pieceSize, len - start);
            ch.write(data, position + start, from, count);
            from += count;
            rest = runPieces + first >= 64 ? 0 : rest & ~(((1L << runPieces) - 1) << first);
        }
    }

    /**
     * A file that is sparse on the donor: as {@link #writePieces}, but 4 KiB pages of zeros inside the pieces are not
     * written either, so the copy allocates no more than the source even where a hole is smaller than a piece.
     */
    private static void writeSparse(final OpenFile ch, final ApplyData data, final long position, final int len,
        final long mask, final int pieceSize) throws IOException
    {
        final int page = DescriptorFlyweight.MIN_PIECE_SIZE;
        final long m = mask & DescriptorFlyweight.allPieces(len, pieceSize);
        int from = 0;
        for (int i = 0, n = DescriptorFlyweight.pieceCount(len, pieceSize); i < n; i++)
        {
            if ((m & (1L << i)) == 0)
            {
                continue;
            }
            final int pieceStart = i * pieceSize;
            final int pieceLen = Math.min(pieceSize, len - pieceStart);
            int runStart = -1;
            for (int at = 0; at < pieceLen; at += page)
            {
                final int pageLen = Math.min(page, pieceLen - at);
                final boolean zero = data.isZero(from + at, pageLen);
                if (!zero && runStart < 0)
                {
                    runStart = at;
                }
                if (zero && runStart >= 0)
                {
                    ch.write(data, position + pieceStart + runStart, from + runStart, at - runStart);
                    runStart = -1;
                }
            }
            if (runStart >= 0)
            {
                ch.write(data, position + pieceStart + runStart, from + runStart, pieceLen - runStart);
            }
            from += pieceLen;
        }
    }

    /**
     * Force one file's bytes to disk (journal checkpoints).
     */
    void force(final int index) throws IOException
    {
        final TargetEntries es = manifest.entries();
        if (es == null || index < 0 || index >= es.size() || es.type(index) != DescriptorFlyweight.FILE_REGULAR)
        {
            return; // only regular files have blocks
        }
        try (FileChannel ch = FileChannel.open(es.get(index).resolved(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            ch.force(true);
        }
        catch (final NoSuchFileException ignore)
        {
            // not written yet
        }
    }

    /**
     * Close every task's open files (the clone ended or restarts; a failed clone keeps its marker).
     */
    void close()
    {
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final BlockInflater inflater = inflaters.getAndSet(i, null);
            if (inflater != null)
            {
                inflater.close();
            }
            final Int2ObjectHashMap<OpenFile> files = taskFiles.getAndSet(i, null);
            if (files != null)
            {
                for (final OpenFile ch : files.values())
                {
                    try
                    {
                        ch.close();
                    }
                    catch (final IOException ignore)
                    {
                        // the clone failed already; the marker stays
                    }
                }
            }
        }
    }
}
