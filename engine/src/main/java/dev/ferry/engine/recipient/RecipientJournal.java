package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

/**
 * The recipient's durable record of an interrupted clone, kept in {@code TARGET/.ferry/}:
 * <ul>
 *   <li>{@code manifest}: a header (magic, snapshot id, chunk size, block size, files per chunk, entry count, a
 *   complete flag, the descriptor format) and the donor's STATE and FILE descriptors as received, forced to disk when
 *   the metadata stage ends;</li>
 *   <li>{@code applied}: the applied state (same encoding as a restart locator), replaced atomically at each
 *   checkpoint. A block is in it only after the files it was written to were forced to disk (when sync is on),
 *   so after a crash the journal never claims bytes that were lost.</li>
 *   <li>{@code torn}: the indexes (int32, little-endian) of files one of whose blocks failed its CRC32C in a live
 *   clone's change pass: the donor read a region that was being written. The block was not written but counts as
 *   applied, so the chunk completes; the next pass compares such a file piece by piece instead of keeping it.
 *   Replaced and forced before the applied state that covers the block; removed with a new manifest.</li>
 * </ul>
 * Apply workers mark files dirty (lock-free bitmap); the clone driver calls {@link #checkpoint} every second or so.
 */
public final class RecipientJournal
{
    public static final String MANIFEST = "manifest";
    public static final String APPLIED = "applied";
    public static final String TORN = "torn";
    private static final long MAGIC = 0x4C4E524A_59525246L; // "FRRYJRNL"
    private static final int HEADER = 48;
    private static final int ENTRIES_OFFSET = 32;
    /** Where a STATE descriptor's file count, chunk count and estimated bytes lie (three int64s). */
    private static final int STATE_COUNTS_OFFSET = 8;
    private static final int COMPLETE_OFFSET = 40;
    private static final int FORMAT_OFFSET = 44;
    /**
     * The layout of the STATE and FILE descriptors a journal holds: protocol 2's, unchanged in 3 (DATA descriptors
     * are never journaled). Raise it when those layouts change. Journals written before the field existed hold 0 there: those of
     * protocol 2 builds are read, those of protocol 1 refused ({@link #load}).
     */
    static final int DESCRIPTOR_FORMAT = 2;

    private final Path dir;
    private final boolean sync;
    private FileChannel manifest;
    private final ByteBuffer pending = ByteBuffer.allocate(256 * 1024).order(ByteOrder.LITTLE_ENDIAN);
    private volatile AtomicLongArray dirty = new AtomicLongArray(1);
    /**
     * A block was written before the table of dirty files had room for its file (a streamed manifest's data, which
     * comes before the manifest is whole): the next checkpoint forces the whole file system, or every file.
     */
    private volatile boolean unmarkedWrites;
    private volatile AtomicLongArray torn = new AtomicLongArray(1);
    private volatile boolean tornChanged;
    private int entryCount;
    private int descriptorsWritten;
    private boolean manifestComplete;

    /**
     * What a journal holds, loaded for {@code --resume}.
     */
    public static final class Loaded
    {
        public final long snapshotId;
        public final long chunkSize;
        public final int blockSize;
        public final int filesPerChunk;
        public final List<byte[]> descriptors;
        public final AppliedState applied;
        /** Files of this manifest with a torn block (see the class comment): compared, never kept. */
        public final int[] torn;

        Loaded(final long snapshotId, final long chunkSize, final int blockSize, final int filesPerChunk,
            final List<byte[]> descriptors, final AppliedState applied, final int[] torn)
        {
            this.torn = torn;
            this.snapshotId = snapshotId;
            this.chunkSize = chunkSize;
            this.blockSize = blockSize;
            this.filesPerChunk = filesPerChunk;
            this.descriptors = descriptors;
            this.applied = applied;
        }
    }

    RecipientJournal(final Path dir, final boolean sync)
    {
        this.dir = dir;
        this.sync = sync;
    }

    /**
     * Start a new manifest for a snapshot (replaces any earlier one). Metadata thread.
     */
    void begin(final long snapshotId, final long chunkSize, final int blockSize, final int filesPerChunk,
        final long entries) throws IOException
    {
        close();
        pending.clear();
        descriptorsWritten = 0;
        Files.deleteIfExists(dir.resolve(APPLIED));
        Files.deleteIfExists(dir.resolve(TORN));
        torn = new AtomicLongArray(1);
        tornChanged = false;
        manifest = FileChannel.open(dir.resolve(MANIFEST), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING);
        final ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        h.putLong(MAGIC).putLong(snapshotId).putLong(chunkSize).putInt(blockSize).putInt(filesPerChunk)
            .putLong(entries).putInt(0).putInt(DESCRIPTOR_FORMAT).flip();
        while (h.hasRemaining())
        {
            manifest.write(h);
        }
        entryCount = (int)entries;
        manifestComplete = false;
    }

    void appendDescriptor(final DirectBuffer buffer, final int offset, final int length) throws IOException
    {
        if (manifest == null)
        {
            return;
        }
        if (pending.remaining() < 4 + length)
        {
            flushPending();
        }
        pending.putInt(length);
        buffer.getBytes(offset, pending, length);
        descriptorsWritten++;
    }

    private void flushPending() throws IOException
    {
        pending.flip();
        while (pending.hasRemaining())
        {
            manifest.write(pending);
        }
        pending.clear();
    }

    /**
     * The metadata stage ended: mark the manifest complete and force it (always: it is small and resume needs it).
     */
    /**
     * A streamed manifest ended (PROTOCOL.md 6.5): its METADATA STATE was journaled with no counts, so they are written
     * into it now, and the journal reads as one of a manifest sent whole; then as {@link #completeManifest()}.
     */
    void completeStreamedManifest(final long files, final long chunks, final long bytes) throws IOException
    {
        if (manifest == null)
        {
            return;
        }
        flushPending();
        final ByteBuffer counts = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(files).putLong(chunks)
            .putLong(bytes).flip();
        while (counts.hasRemaining())
        {
            manifest.write(counts, HEADER + 4 + STATE_COUNTS_OFFSET + counts.position());
        }
        completeManifest();
        // the blocks written while it streamed were marked in a table too small for them, or in the one the new
        // table replaces: the first checkpoint forces them all before it records any as applied
        unmarkedWrites = true;
    }

    void completeManifest() throws IOException
    {
        if (manifest == null)
        {
            return;
        }
        flushPending();
        // the count of what really arrived (a streamed manifest announced none up front)
        final ByteBuffer count = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(descriptorsWritten).flip();
        manifest.write(count, ENTRIES_OFFSET);
        entryCount = descriptorsWritten;
        final ByteBuffer done = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(1).flip();
        manifest.write(done, COMPLETE_OFFSET);
        manifest.force(true);
        manifest.close();
        manifest = null;
        // sized now, from what really arrived, not from the count the donor announced
        dirty = new AtomicLongArray((descriptorsWritten + 63) / 64 + 1);
        torn = new AtomicLongArray(dirty.length());
        manifestComplete = true;
        forceDirectory(dir);
    }

    /**
     * A block of file {@code index} was written. Any apply thread; lock-free.
     */
    void markDirty(final int index)
    {
        final AtomicLongArray d = dirty;
        final int word = index >>> 6;
        final long bit = 1L << (index & 63);
        if (word >= d.length())
        {
            unmarkedWrites = true;
        }
        else if ((d.get(word) & bit) == 0)
        {
            d.getAndAccumulate(word, bit, (a, b) -> a | b);
        }
    }

    /**
     * A block of file {@code index} failed its CRC32C in a live change pass and was not written (see the class
     * comment). Any thread; lock-free; recorded durably by the next {@link #checkpoint}.
     */
    void markTorn(final int index)
    {
        final AtomicLongArray t = torn;
        final int word = index >>> 6;
        if (word < t.length())
        {
            t.getAndAccumulate(word, 1L << (index & 63), (a, b) -> a | b);
            tornChanged = true;
        }
    }

    private void writeTorn() throws IOException
    {
        tornChanged = false;
        final AtomicLongArray t = torn;
        int count = 0;
        for (int w = 0; w < t.length(); w++)
        {
            count += Long.bitCount(t.get(w));
        }
        final ByteBuffer bb = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
        for (int w = 0; w < t.length(); w++)
        {
            long bits = t.get(w);
            while (bits != 0 && bb.hasRemaining())
            {
                bb.putInt((w << 6) + Long.numberOfTrailingZeros(bits));
                bits &= bits - 1;
            }
        }
        bb.flip();
        replace(TORN, bb);
    }

    /**
     * Record {@code state}: first force every file written since the last checkpoint (when sync is on), then replace
     * the applied file atomically. {@code state} must have been taken before this call, so every block in it was
     * written, and its file marked dirty, before the forcing.
     */
    void checkpoint(final AppliedState state, final FileTreeRecipient recipient) throws IOException
    {
        if (!manifestComplete)
        {
            return;
        }
        final AtomicLongArray d = dirty;
        if (sync && unmarkedWrites)
        {
            // blocks written while a streamed manifest arrived were not marked: force them all, once
            unmarkedWrites = false;
            if (!Durability.syncFileSystem(dir))
            {
                for (int i = 0; i < entryCount; i++)
                {
                    recipient.force(i);
                }
            }
        }
        if (sync)
        {
            // take and clear the dirty bits first: a file marked after this point is forced by the next checkpoint
            final long[] taken = new long[d.length()];
            int files = 0;
            for (int w = 0; w < d.length(); w++)
            {
                taken[w] = d.getAndSet(w, 0);
                files += Long.bitCount(taken[w]);
            }
            // many files: one syncfs forces them all; few (or no seam): file by file
            if (files > 0 && !(Durability.wholeFileSystemFor(files) && Durability.syncFileSystem(dir)))
            {
                for (int w = 0; w < taken.length; w++)
                {
                    long bits = taken[w];
                    while (bits != 0)
                    {
                        final int index = (w << 6) + Long.numberOfTrailingZeros(bits);
                        bits &= bits - 1;
                        recipient.force(index);
                    }
                }
            }
        }
        final Locator carrier = Locator.real(Locator.ENGINE_FILE_TREE, 1, 1, 0, Stage.FILE_COPY).restart(state);
        final int len = LocatorCodec.encodedLength(carrier);
        final UnsafeBuffer b = new UnsafeBuffer(new byte[len]);
        LocatorCodec.encode(b, 0, carrier);
        if (tornChanged)
        {
            writeTorn(); // before the applied state that counts the torn blocks as applied
        }
        replace(APPLIED, ByteBuffer.wrap(b.byteArray(), 0, len));
    }

    /**
     * Replace the journal file {@code name} with {@code bytes} atomically (forced first when sync is on).
     */
    private void replace(final String name, final ByteBuffer bytes) throws IOException
    {
        final Path tmp = dir.resolve(name + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            while (bytes.hasRemaining())
            {
                ch.write(bytes);
            }
            if (sync)
            {
                ch.force(true);
            }
        }
        try
        {
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        catch (final AtomicMoveNotSupportedException ex)
        {
            Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        }
        if (sync)
        {
            forceDirectory(dir);
        }
    }

    /**
     * Continue the journal of an interrupted clone of the same snapshot.
     */
    void resumed(final Loaded loaded)
    {
        entryCount = loaded.descriptors.size();
        dirty = new AtomicLongArray((entryCount + 63) / 64 + 1);
        torn = new AtomicLongArray(dirty.length());
        for (final int t : loaded.torn)
        {
            markTorn(t);
        }
        manifestComplete = true;
    }

    int entryCount()
    {
        return entryCount;
    }

    void close()
    {
        if (manifest != null)
        {
            try
            {
                manifest.close();
            }
            catch (final IOException ignore)
            {
                // the journal is only trusted when complete
            }
            manifest = null;
        }
    }

    /**
     * Load the journal of an interrupted clone.
     *
     * @return it, or null if there is no complete manifest (the clone died before its metadata was recorded).
     * @throws FerryException {@link ErrorCode#VERSION_MISMATCH} if an older or newer Ferry wrote it (protocol 1's
     *                        FILE descriptors lack owners, xattrs, hard links and holes, so such a copy cannot be
     *                        continued: the hint says to clone again into an empty directory);
     *                        {@link ErrorCode#IO_ERROR} if it is damaged.
     */
    public static Loaded load(final Path stateDir)
    {
        final Path m = stateDir.resolve(MANIFEST);
        if (!Files.isRegularFile(m, LinkOption.NOFOLLOW_LINKS))
        {
            return null;
        }
        try
        {
            final byte[] all = Files.readAllBytes(m);
            final ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            if (all.length < HEADER || b.getLong(0) != MAGIC || b.getInt(COMPLETE_OFFSET) != 1)
            {
                return null;
            }
            final int format = b.getInt(FORMAT_OFFSET);
            if (format != 0 && format != DESCRIPTOR_FORMAT)
            {
                throw olderJournal(stateDir, "a Ferry whose resume journal has format " + format + " (this build " +
                    "reads format " + DESCRIPTOR_FORMAT + ")");
            }
            final long snapshot = b.getLong(8);
            final long chunkSize = b.getLong(16);
            final int blockSize = b.getInt(24);
            final int filesPerChunk = b.getInt(28);
            final long entries = b.getLong(32);
            final List<byte[]> descriptors = new ArrayList<>();
            int p = HEADER;
            while (p + 4 <= all.length)
            {
                final int len = b.getInt(p);
                if (len < 0 || p + 4 + len > all.length)
                {
                    throw new FerryException(ErrorCode.IO_ERROR, "the resume journal " + m + " is damaged");
                }
                final byte[] d = new byte[len];
                System.arraycopy(all, p + 4, d, 0, len);
                descriptors.add(d);
                p += 4 + len;
            }
            if (format == 0)
            {
                checkLegacy(stateDir, descriptors);
            }
            if (descriptors.size() != entries)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "the resume journal " + m + " holds " + descriptors.size() +
                    " of " + entries + " entries");
            }
            AppliedState applied = null;
            final Path a = stateDir.resolve(APPLIED);
            if (Files.isRegularFile(a, LinkOption.NOFOLLOW_LINKS))
            {
                final byte[] ab = Files.readAllBytes(a);
                final UnsafeBuffer ub = new UnsafeBuffer(ab);
                if (LocatorCodec.validate(ub, 0, ab.length) == ErrorCode.OK)
                {
                    applied = LocatorCodec.decode(ub, 0).applied();
                }
            }
            int[] tornFiles = new int[0];
            final Path t = stateDir.resolve(TORN);
            if (Files.isRegularFile(t, LinkOption.NOFOLLOW_LINKS))
            {
                final ByteBuffer tb = ByteBuffer.wrap(Files.readAllBytes(t)).order(ByteOrder.LITTLE_ENDIAN);
                tornFiles = new int[tb.remaining() / 4];
                for (int i = 0; i < tornFiles.length; i++)
                {
                    tornFiles[i] = tb.getInt();
                }
            }
            return new Loaded(snapshot, chunkSize, blockSize, filesPerChunk, descriptors, applied, tornFiles);
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot read the resume journal in " + stateDir + ": " + ex, ex);
        }
    }

    /**
     * A journal from before the format field: a protocol 2 build's is read as it is; one whose FILE descriptors have
     * protocol 1's layout (the path at offset 40, right after the chunk span) is refused.
     */
    private static void checkLegacy(final Path stateDir, final List<byte[]> descriptors)
    {
        final DescriptorFlyweight d = new DescriptorFlyweight();
        final UnsafeBuffer b = new UnsafeBuffer(new byte[0]);
        for (final byte[] bytes : descriptors)
        {
            b.wrap(bytes);
            d.wrap(b, 0, bytes.length);
            if (bytes.length >= 4 && d.type() == DescriptorFlyweight.TYPE_FILE && d.validate() != ErrorCode.OK &&
                isProtocol1File(bytes))
            {
                throw olderJournal(stateDir, "an older Ferry (protocol 1)");
            }
        }
    }

    /** Protocol 1's FILE descriptor: 40 bytes of fields, the path, the symlink target, nothing after them. */
    private static boolean isProtocol1File(final byte[] d)
    {
        final int pathAt = 40;
        if (d.length < pathAt + 4)
        {
            return false;
        }
        final ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        final int targetAt = pathAt + 2 + (b.getShort(pathAt) & 0xffff);
        return targetAt + 2 <= d.length && targetAt + 2 + (b.getShort(targetAt) & 0xffff) == d.length;
    }

    private static FerryException olderJournal(final Path stateDir, final String writer)
    {
        final Path target = stateDir.getParent();
        return new FerryException(ErrorCode.VERSION_MISMATCH, "the interrupted clone in " + target + " was written " +
            "by " + writer + ", whose resume journal this build cannot continue", "start the clone again into an " +
            "empty directory (remove " + target + " or choose another; a copy made by protocol 1 also lacks owners, " +
            "xattrs, hard links and holes)", null);
    }

    static void forceDirectory(final Path d) throws IOException
    {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ))
        {
            ch.force(true);
        }
    }
}
