package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReferenceArray;

import org.agrona.collections.Long2LongHashMap;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.ApplyData;
import dev.ferry.engine.diff.FileHashes;
import dev.ferry.engine.diff.PieceHasher;
import dev.ferry.engine.layout.ManifestScanner;

/**
 * The piece hashes of a finished copy's files, kept in the copy ({@value ManifestScanner#HASH_STORE} at its root) so
 * that an update need not read a file of the copy again to tell the donor what it has (issue 12): the clone that
 * wrote a file hashed each piece as it wrote it, from the block buffer, and an update keeps the hashes of the files
 * it compared, with the pieces it wrote hashed as it wrote them. Then an update reads and hashes only the donor's
 * changed files, not both sides'.
 * <p>
 * A file's hashes are used only while the file is the version they describe: same device, inode, size, mtime and
 * ctime as when the store was written, after FILE SYNC (any write, chmod, chown, rename or link moves the ctime,
 * which no user can set). Only files of {@code ferry.hashes.minBytes} (default 1 MiB) and more are kept: their hashes
 * are 1/1024 of their bytes at 16 KiB pieces. {@code --checksum} never uses the store (it reads every piece), and
 * {@code -Dferry.hashes=false} turns it off. A store that cannot be read (wrong magic, version, lengths) is ignored.
 * <p>
 * Layout (little-endian): a 64-byte header (magic, version, piece size, slot count, record count, where the records
 * and the index start), the hash area (16 bytes a piece, a file's pieces in one run of slots; 0,0 stands for a piece
 * never written, which is zeros), the records (device, inode, size, mtime, ctime, first slot, pieces, path length,
 * path bytes, padded to 8), and the index (record offsets sorted by path bytes, for a binary search). It is built in
 * {@code .ferry/hashes} while the clone runs (the header stays zero until the end, so a torn one never opens), forced,
 * and renamed into place before the incomplete-clone marker goes.
 */
final class HashStore implements AutoCloseable, KnownHashes
{
    static final String BUILDING = "hashes";
    /** Where an update that writes data puts the store in place until it ends (inside {@code .ferry/}). */
    static final String RETIRED = "hashes.prev";
    static final long MIN_BYTES = Long.getLong("ferry.hashes.minBytes", 1L << 20);
    static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("ferry.hashes"));
    /** Tests: after writing a store, hash every file it describes again and fail on any difference. */
    static final boolean CHECK = Boolean.getBoolean("ferry.hashes.check");

    private static final long MAGIC = 0x3153454853595246L; // "FRYSHES1"
    private static final int VERSION = 3; // 3: records checked by CRC-32C + CRC-32 (2: XXH3-64)
    private static final int HEADER = 64;
    /** dev, ino, size, mtime, ctime, first slot, checksum (longs), pieces, path length (ints). */
    private static final int FIXED = 7 * Long.BYTES + 2 * Integer.BYTES;
    private static final int CHECKSUM_AT = 48;
    private static final int PIECES_AT = 56;
    private static final int PATH_LENGTH_AT = 60;
    private static final int SLOT = 16;

    private final FileChannel channel;
    private final int pieceSize;
    private final long slots;
    private final long records;
    private final long indexAt;
    private final long length;
    private final ByteBuffer fixed = ByteBuffer.allocate(FIXED).order(ByteOrder.LITTLE_ENDIAN);
    private long hits;
    private long hitBytes;
    private long[] lastStamp;

    private HashStore(final FileChannel channel, final int pieceSize, final long slots, final long records,
        final long indexAt, final long length)
    {
        this.channel = channel;
        this.pieceSize = pieceSize;
        this.slots = slots;
        this.records = records;
        this.indexAt = indexAt;
        this.length = length;
    }

    /**
     * @return the store of the copy at {@code target}, or null when there is none or it cannot be read.
     */
    static HashStore open(final Path target)
    {
        if (!ENABLED)
        {
            return null;
        }
        final Path file = target.resolve(ManifestScanner.HASH_STORE);
        FileChannel ch = null;
        try
        {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
            {
                return null; // absent, or something else under the name (a FIFO would block the open)
            }
            ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            final long size = ch.size();
            if (size < HEADER)
            {
                ch.close();
                return null;
            }
            final ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, h, 0);
            final long slots = h.getLong(16);
            final long records = h.getLong(24);
            final long recordsAt = h.getLong(32);
            final long indexAt = h.getLong(40);
            final int pieceSize = h.getInt(12);
            // every bound checked before it is multiplied, so no damaged count can overflow into a valid-looking one
            if (h.getLong(0) != MAGIC || h.getInt(8) != VERSION || pieceSize <= 0 || slots < 0 ||
                slots > (size - HEADER) / SLOT || records < 0 || recordsAt != HEADER + slots * SLOT ||
                indexAt < recordsAt || indexAt > size || records > (size - indexAt) / Long.BYTES ||
                indexAt + records * Long.BYTES != size)
            {
                ch.close();
                return null;
            }
            return new HashStore(ch, pieceSize, slots, records, indexAt, size);
        }
        catch (final NoSuchFileException ex)
        {
            return null;
        }
        catch (final IOException | RuntimeException ex)
        {
            closeQuietly(ch);
            return null;
        }
    }

    /**
     * @return the checksum of a record: its fixed fields but the checksum itself, its path and its slots' bytes, so
     *     that a damaged record or hash area (a zeroed sector would read as "never written": zeros) is not believed.
     */
    static long checksum(final ByteBuffer fixedFields, final byte[] path, final FileChannel ch, final long first,
        final int pieces, final long[] out, final int outPieces, final ZeroHashes zeros, final int pieceSize,
        final long size) throws IOException
    {
        final ByteBuffer f = ByteBuffer.allocate(FIXED).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < FIXED; i++)
        {
            f.put(i, fixedFields.get(i));
        }
        f.putLong(CHECKSUM_AT, 0);
        final RecordCheck check = new RecordCheck();
        check.update(f.array(), 0, FIXED);
        check.update(path, 0, path.length);
        // the slots in runs of CHUNK_SLOTS: no buffer the size of a file's hashes (a 64 GiB file has 64 MiB of them)
        final ByteBuffer chunk = ByteBuffer.allocate(Math.max(1, Math.min(pieces, CHUNK_SLOTS)) * SLOT)
            .order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < pieces; )
        {
            final int n = Math.min(pieces - done, CHUNK_SLOTS);
            chunk.clear().limit(n * SLOT);
            readFully(ch, chunk, HEADER + (first + done) * SLOT);
            chunk.flip();
            check.update(chunk.array(), 0, n * SLOT);
            final int wantedHere = out == null ? 0 : Math.max(0, Math.min(n, outPieces - done));
            if (wantedHere > 0)
            {
                // one bulk copy of the run, then the pieces never written get the hash of zeros
                chunk.asLongBuffer().get(out, done * 2, wantedHere * 2);
                for (int i = done * 2, end = (done + wantedHere) * 2; i < end; i += 2)
                {
                    if (out[i] == 0 && out[i + 1] == 0)
                    {
                        final long[] z = zeros.of((int)Math.min(pieceSize, size - (long)(i / 2) * pieceSize));
                        out[i] = z[0];
                        out[i + 1] = z[1];
                    }
                }
            }
            done += n;
        }
        return check.value();
    }

    /**
     * A record's check: CRC-32C and CRC-32 side by side, 64 bits. It guards against damage (a torn or rotted store),
     * not against someone who can write the copy. Both CRCs are intrinsics from a JVM's first call, where XXH3 runs
     * interpreted until compiled: a short-lived client took 6-8 ms to check each 512 MiB file's 512 KiB of slots
     * with XXH3-64 under C1, even after its first calls, against 0.2 ms once compiled. Two CRCs of different
     * polynomials: a damage must fool both.
     */
    private static final class RecordCheck
    {
        private final java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        private final java.util.zip.CRC32 z = new java.util.zip.CRC32();

        void update(final byte[] b, final int off, final int len)
        {
            c.update(b, off, len);
            z.update(b, off, len);
        }

        long value()
        {
            return c.getValue() << 32 | z.getValue();
        }
    }

    private static final int CHUNK_SLOTS = 4096;

    /**
     * @return the hashes of {@code e}'s first pieces (up to {@code maxPieces}) as the copy's file is now, or null when
     *     the store does not describe the file as it is now.
     */
    @Override
    public long[] lookup(final TargetEntry e, final long maxPieces, final int pieceSize)
    {
        return lookup(e.pathBytes, e.resolved(), null, maxPieces, pieceSize);
    }

    /**
     * As {@link #lookup(TargetEntry, long, int)}, for the record of {@code path} checked against {@code stamp} (null:
     * the file at {@code file} as it is now): an update that moved a file found its record under the old path, as
     * the file was just before the move.
     */
    long[] lookup(final byte[] path, final Path file, final long[] given, final long maxPieces, final int pieceSize)
    {
        if (pieceSize != this.pieceSize)
        {
            return null;
        }
        try
        {
            final long at = find(path);
            if (at < 0)
            {
                return null;
            }
            final long[] stamp = given != null ? given : stamp(file);
            readFully(channel, fixed.clear(), at);
            if (stamp == null || fixed.getLong(0) != stamp[0] || fixed.getLong(8) != stamp[1] ||
                fixed.getLong(16) != stamp[2] || fixed.getLong(24) != stamp[3] || fixed.getLong(32) != stamp[4])
            {
                return null;
            }
            final long first = fixed.getLong(40);
            final long filePieces = fixed.getInt(PIECES_AT);
            // a record describes the whole file: fewer pieces would tell the donor that the copy ends early
            if (first < 0 || filePieces != (stamp[2] + pieceSize - 1) / pieceSize || filePieces > slots - first ||
                filePieces > Integer.MAX_VALUE / SLOT)
            {
                return null;
            }
            final long pieces = Math.min(maxPieces, filePieces);
            if (pieces * SLOT > Runtime.getRuntime().maxMemory() / 8)
            {
                return null; // more hashes than the heap should hold: the file is read and hashed within its budget
            }
            if (zeros == null)
            {
                zeros = new ZeroHashes(pieceSize);
            }
            final long[] out = new long[(int)pieces * 2];
            if (checksum(fixed, path, channel, first, (int)filePieces, out, (int)pieces, zeros, pieceSize,
                stamp[2]) != fixed.getLong(CHECKSUM_AT))
            {
                return null;
            }
            lastStamp = stamp;
            hits++;
            hitBytes += Math.min(stamp[2], pieces * pieceSize);
            return out;
        }
        catch (final IOException | RuntimeException ex)
        {
            return null; // a damaged store is not believed, and never fails the update
        }
    }

    /**
     * @return the hashes of {@code pieces} pieces from slot {@code first} of a file of {@code size} bytes, with the
     *     pieces never written given the hash of zeros.
     */
    private ZeroHashes zeros;

    /**
     * @return the offset of the record for {@code path}, or -1.
     */
    private long find(final byte[] path) throws IOException
    {
        final ByteBuffer slot = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long lo = 0;
        long hi = records - 1;
        while (lo <= hi)
        {
            final long mid = (lo + hi) >>> 1;
            readFully(channel, slot.clear(), indexAt + mid * Long.BYTES);
            final long at = slot.getLong(0);
            final byte[] p = pathAt(at);
            final int c = Arrays.compareUnsigned(p, path);
            if (c == 0)
            {
                return at;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return -1;
    }

    private byte[] pathAt(final long at) throws IOException
    {
        if (at < HEADER || at > length - FIXED)
        {
            throw new IOException("record outside the store");
        }
        readFully(channel, fixed.clear(), at);
        final int len = fixed.getInt(PATH_LENGTH_AT);
        if (len < 0 || len > 4096 || at + FIXED + len > length)
        {
            throw new IOException("record outside the store");
        }
        final ByteBuffer p = ByteBuffer.allocate(len);
        readFully(channel, p, at + FIXED);
        return p.array();
    }

    /**
     * @return the stamp of the file the last successful {@link #lookup} described.
     */
    long[] lastStamp()
    {
        return lastStamp;
    }

    /**
     * @return the number of files the store describes.
     */
    long records()
    {
        return records;
    }

    /**
     * @return files whose hashes came from the store.
     */
    long hits()
    {
        return hits;
    }

    /**
     * @return bytes of the copy not read thanks to the store.
     */
    long hitBytes()
    {
        return hitBytes;
    }

    @Override
    public void close()
    {
        closeQuietly(channel);
    }

    /**
     * @return {device, inode, size, mtime ns, ctime ns} of {@code p} (not followed), or null if it cannot be read.
     */
    static long[] stamp(final Path p)
    {
        try
        {
            final Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino,size,lastModifiedTime,ctime",
                LinkOption.NOFOLLOW_LINKS);
            return new long[] { (Long)a.get("dev"), (Long)a.get("ino"), (Long)a.get("size"),
                nanos((FileTime)a.get("lastModifiedTime")), nanos((FileTime)a.get("ctime")) };
        }
        catch (final IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException ex)
        {
            return null;
        }
    }

    private static long nanos(final FileTime t)
    {
        final java.time.Instant i = t.toInstant();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    private static void readFully(final FileChannel ch, final ByteBuffer b, final long at) throws IOException
    {
        while (b.hasRemaining())
        {
            if (ch.read(b, at + b.position()) < 0)
            {
                throw new IOException("the hash store ends early");
            }
        }
    }

    private static void writeFully(final FileChannel ch, final ByteBuffer b, final long at) throws IOException
    {
        long pos = at;
        while (b.hasRemaining())
        {
            pos += ch.write(b, pos);
        }
    }

    private static void closeQuietly(final FileChannel ch)
    {
        if (ch != null)
        {
            try
            {
                ch.close();
            }
            catch (final IOException ignore)
            {
                // read-only
            }
        }
    }

    /** The hash of a piece of zeros, by length (the last piece of a file is shorter). One per thread. */
    static final class ZeroHashes
    {
        private final ByteBuffer zeros;
        private final PieceHasher hasher = new PieceHasher();
        private final Long2LongHashMap lows = new Long2LongHashMap(Long.MIN_VALUE);
        private final Long2LongHashMap highs = new Long2LongHashMap(Long.MIN_VALUE);

        ZeroHashes(final int pieceSize)
        {
            zeros = ByteBuffer.allocateDirect(pieceSize);
        }

        long[] of(final int length)
        {
            long lo = lows.get(length);
            if (lo == Long.MIN_VALUE && !lows.containsKey(length))
            {
                hasher.hash(zeros, 0, length);
                lo = hasher.low();
                lows.put(length, lo);
                highs.put(length, hasher.high());
            }
            return new long[] { lo, highs.get(length) };
        }
    }

    /**
     * The store a clone or an update writes as it applies: one run of slots per regular file it will describe
     * (laid out before data moves), each piece's hash written by the apply worker that wrote the piece, from the
     * block buffer; {@link #finish} adds the records after FILE SYNC and moves the store into the copy. Apply workers
     * call {@link #onWrite} concurrently (positional writes to distinct slots); the rest is the driver's.
     */
    static final class Builder
    {
        private final Path stateFile;
        private final FileChannel channel;
        private final int pieceSize;
        /** Entry index -> first slot. Filled before data moves, read-only after (published by the volatile store). */
        private final Long2LongHashMap firstSlot = new Long2LongHashMap(-1);
        private final AtomicReferenceArray<TaskScratch> scratch = new AtomicReferenceArray<>(LocatorCodec.MAX_TASKS);
        private long slots;
        /** A write the store could not hash (bytes not in a buffer): the store is dropped at the end. */
        private volatile boolean broken;
        /** Anything laid out or written that the store in place does not say already. */
        private volatile boolean dirty;
        /** Files carried over from the store in place: entry index -> the stamp it had there. */
        private final org.agrona.collections.Int2ObjectHashMap<long[]> carried =
            new org.agrona.collections.Int2ObjectHashMap<>();
        private long previousRecords = -1;
        /** The store in place, moved aside while this update writes data; null if it was left in place. */
        private Path retired;

        private static final class TaskScratch
        {
            final PieceHasher hasher = new PieceHasher();
            final ByteBuffer out = ByteBuffer.allocateDirect(64 * SLOT).order(ByteOrder.LITTLE_ENDIAN);
        }

        Builder(final Path stateDir, final int pieceSize) throws IOException
        {
            this.stateFile = stateDir.resolve(BUILDING);
            this.pieceSize = pieceSize;
            Files.deleteIfExists(stateFile);
            // owner only: it names every large file of the copy, those in private directories too
            final java.util.Set<StandardOpenOption> open = java.util.EnumSet.of(StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileChannel ch;
            try
            {
                ch = FileChannel.open(stateFile, open, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            }
            catch (final UnsupportedOperationException notPosix)
            {
                ch = FileChannel.open(stateFile, open);
            }
            this.channel = ch;
        }

        /**
         * @return whether a regular file of {@code size} bytes gets hashes in the store.
         */
        static boolean wanted(final long size)
        {
            return size > 0 && size >= MIN_BYTES;
        }

        /**
         * Lay out entry {@code index}, a regular file of {@code size} bytes, with its pieces' hashes so far:
         * {@code known} (two longs a piece, as many pieces as it covers; null for none: a new file, whose unwritten
         * pieces are zeros).
         */
        void add(final int index, final long size, final long[] known) throws IOException
        {
            add(index, size, known, null);
        }

        /**
         * The store in place, which describes {@code records} files: when this one would say the same (every file
         * carried over from it, none changed, nothing written), {@link #finish} keeps it instead of rewriting it.
         */
        void previous(final long records)
        {
            previousRecords = records;
        }

        /**
         * Before this update writes any data: move the store in place into {@code .ferry/}, forced, so that a crash
         * while files are rewritten (whose ctime changes a crash may lose while their new bytes survive) leaves no
         * store that a resume or a later update would believe. {@link #finish} puts it back, or replaces it.
         */
        void retire(final Path target, final boolean sync) throws IOException
        {
            final Path inPlace = target.resolve(ManifestScanner.HASH_STORE);
            if (!Files.isRegularFile(inPlace, LinkOption.NOFOLLOW_LINKS))
            {
                return;
            }
            final Path aside = stateFile.resolveSibling(RETIRED);
            Files.move(inPlace, aside, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            retired = aside;
            if (sync)
            {
                RecipientFiles.forceDirectory(target);
            }
        }

        private void dropRetired() throws IOException
        {
            if (retired != null)
            {
                Files.deleteIfExists(retired);
                retired = null;
            }
        }

        /**
         * As {@link #add(int, long, long[])}, for a file whose hashes are carried over from the store in place,
         * where it had {@code stamp} (null: not carried over).
         */
        void add(final int index, final long size, final long[] known, final long[] stamp) throws IOException
        {
            if (stamp != null)
            {
                carried.put(index, stamp);
            }
            else
            {
                dirty = true;
            }
            final long pieces = (size + pieceSize - 1) / pieceSize;
            if (pieces > Integer.MAX_VALUE / SLOT || firstSlot.containsKey(index))
            {
                return;
            }
            firstSlot.put(index, slots);
            if (known != null && known.length > 0)
            {
                final int n = (int)Math.min(pieces, known.length / 2);
                final ByteBuffer b = ByteBuffer.allocate(Math.min(n, 4096) * SLOT).order(ByteOrder.LITTLE_ENDIAN);
                for (int done = 0; done < n; )
                {
                    final int k = Math.min(n - done, b.capacity() / SLOT);
                    b.clear();
                    b.asLongBuffer().put(known, done * 2, k * 2); // slots are the hashes' longs in order
                    b.limit(k * SLOT);
                    writeFully(channel, b, HEADER + (slots + done) * SLOT);
                    done += k;
                }
            }
            slots += pieces;
        }

        /**
         * Something this store will say differs from the store in place (a record under a new path): it is written
         * even when nothing else changed.
         */
        void changed()
        {
            dirty = true;
        }

        /**
         * An apply worker wrote the pieces of {@code mask} of a block of {@code len} bytes at {@code position} of
         * entry {@code index}, from {@code plain} (the masked pieces in order): hash them into their slots.
         */
        void onWrite(final int task, final int index, final long position, final int len, final long mask,
            final ApplyData plain)
        {
            try
            {
                hashInto(task, index, position, len, mask, plain);
            }
            catch (final IOException | RuntimeException ex)
            {
                broken = true; // the store cannot follow (its own disk full): dropped at the end, the clone goes on
            }
        }

        private void hashInto(final int task, final int index, final long position, final int len, final long mask,
            final ApplyData plain) throws IOException
        {
            final long first = firstSlot.get(index);
            if (first < 0)
            {
                return;
            }
            if (!(plain instanceof BufferApplyData) || position % pieceSize != 0)
            {
                broken = true;
                return;
            }
            TaskScratch s = scratch.get(task);
            if (s == null)
            {
                s = new TaskScratch();
                scratch.set(task, s);
            }
            dirty = true;
            final BufferApplyData b = (BufferApplyData)plain;
            final long basePiece = position / pieceSize;
            final long m = mask & DescriptorFlyweight.allPieces(len, pieceSize);
            int from = 0;
            int runStart = -1;
            s.out.clear();
            for (int i = 0, n = DescriptorFlyweight.pieceCount(len, pieceSize); i <= n; i++)
            {
                final boolean in = i < n && (m & (1L << i)) != 0;
                if (!in)
                {
                    if (runStart >= 0)
                    {
                        s.out.flip();
                        writeFully(channel, s.out, HEADER + (first + basePiece + runStart) * SLOT);
                        s.out.clear();
                        runStart = -1;
                    }
                    continue;
                }
                final int pieceLen = Math.min(pieceSize, len - i * pieceSize);
                s.hasher.hash(b.buffer(), b.offset() + from, pieceLen);
                long lo = s.hasher.low();
                long hi = s.hasher.high();
                if (lo == 0 && hi == 0)
                {
                    broken = true; // 0,0 means "never written"; a real piece with that hash cannot be stored
                }
                s.out.putLong(lo).putLong(hi);
                if (runStart < 0)
                {
                    runStart = i;
                }
                from += pieceLen;
            }
        }

        /**
         * After FILE SYNC forced the copy: record each laid-out file as it is now, force the store and move it to
         * {@code target}'s root (replacing the old one). Dropped instead, with the old store, if a write could not
         * be hashed.
         *
         * @param sync whether to force it (the clone's durability setting).
         * @return files recorded, or -1 if the store was dropped.
         */
        long finish(final TargetEntries entries, final Path target, final boolean sync) throws IOException
        {
            return finish(entries, target, sync, true);
        }

        /**
         * @param afterFileSync whether FILE SYNC has given every file the donor's mtime (the end of a clone or update;
         *     not a live clone's pass that another follows): a file whose mtime is not the donor's then was written
         *     by something else since, and is left out.
         */
        long finish(final TargetEntries entries, final Path target, final boolean sync, final boolean afterFileSync)
            throws IOException
        {
            final Path finalFile = target.resolve(ManifestScanner.HASH_STORE);
            if (broken)
            {
                abandon();
                Files.deleteIfExists(finalFile);
                dropRetired();
                return -1;
            }
            final int n = firstSlot.size();
            final long[] at = new long[n];
            final byte[][] paths = new byte[n][];
            long pos = HEADER + slots * SLOT;
            final long recordsAt = pos;
            int count = 0;
            final Long2LongHashMap.KeyIterator keys = firstSlot.keySet().iterator();
            final int[] indexes = new int[n];
            for (int k = 0; k < n; k++)
            {
                indexes[k] = (int)keys.nextValue();
            }
            Arrays.sort(indexes); // manifest order: the records are written in it
            if (afterFileSync)
            {
                measureMtimeGranularity();
            }
            if (!dirty && previousRecords == n && unchangedSinceCarried(entries, indexes))
            {
                abandon(); // the store in place says all this already (a no-change update): it is not rewritten
                if (retired != null)
                {
                    Files.move(retired, finalFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    retired = null;
                }
                return n;
            }
            final ByteBuffer rec = ByteBuffer.allocate(FIXED + 4096 + 8).order(ByteOrder.LITTLE_ENDIAN);
            // every slot of a record is read back for its checksum: the store is 1/1024 of the files it describes
            for (final int index : indexes)
            {
                final TargetEntry e = entries.get(index);
                final long[] stamp = stamp(e.resolved());
                final long pieces = (e.size + pieceSize - 1) / pieceSize;
                if (stamp == null || stamp[2] != e.size || e.pathBytes.length > 4096 || !untouched(entries, index,
                    e, stamp, afterFileSync))
                {
                    continue;
                }
                final long first = firstSlot.get(index);
                rec.clear();
                rec.putLong(stamp[0]).putLong(stamp[1]).putLong(stamp[2]).putLong(stamp[3]).putLong(stamp[4])
                    .putLong(first).putLong(0).putInt((int)pieces).putInt(e.pathBytes.length);
                rec.putLong(CHECKSUM_AT, checksum(rec, e.pathBytes, channel, first, (int)pieces, null, 0, null,
                    pieceSize, e.size));
                rec.put(e.pathBytes);
                while (rec.position() % 8 != 0)
                {
                    rec.put((byte)0);
                }
                rec.flip();
                at[count] = pos;
                paths[count] = e.pathBytes;
                count++;
                final int written = rec.remaining();
                writeFully(channel, rec, pos);
                pos += written;
            }
            final Integer[] order = new Integer[count];
            for (int k = 0; k < count; k++)
            {
                order[k] = k;
            }
            Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(paths[a], paths[b]));
            final long indexAt = pos;
            final ByteBuffer idx = ByteBuffer.allocate(8 * 1024).order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < count; )
            {
                idx.clear();
                while (k < count && idx.hasRemaining())
                {
                    idx.putLong(at[order[k++]]);
                }
                idx.flip();
                final int w = idx.remaining();
                writeFully(channel, idx, pos);
                pos += w;
            }
            if (count == 0)
            {
                abandon(); // nothing to describe
                Files.deleteIfExists(finalFile);
                dropRetired();
                return 0;
            }
            channel.truncate(pos);
            if (sync)
            {
                channel.force(true);
            }
            final ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            h.putLong(MAGIC).putInt(VERSION).putInt(pieceSize).putLong(slots).putLong(count).putLong(recordsAt)
                .putLong(indexAt);
            h.clear();
            writeFully(channel, h, 0);
            if (sync)
            {
                channel.force(true);
            }
            channel.close();
            try
            {
                Files.move(stateFile, finalFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            catch (final AtomicMoveNotSupportedException ex)
            {
                Files.move(stateFile, finalFile, StandardCopyOption.REPLACE_EXISTING);
            }
            dropRetired();
            if (CHECK)
            {
                check(target, entries);
            }
            return count;
        }

        /**
         * @return whether entry {@code index}, now at {@code stamp}, can only have been written by this clone: a file
         *     carried over from the store in place still has the device, inode, size and mtime it had there (and its
         *     ctime, unless FILE SYNC restored its owner, mode or xattrs); after FILE SYNC every file has the donor's
         *     mtime. A program writing the copy behind the target's lock is caught when its write moves the mtime
         *     after FILE SYNC set it, or a kept file's at all; one that writes and then sets the mtime back before
         *     FILE SYNC is not (as it fools rsync's quick check): {@code --checksum} reads everything.
         */
        private boolean untouched(final TargetEntries entries, final int index, final TargetEntry e,
            final long[] stamp, final boolean afterFileSync)
        {
            if (afterFileSync && (mtimeGranularity == MtimeGranularity.UNKNOWN ||
                stamp[3] != MtimeGranularity.kept(e.mtimeNanos, mtimeGranularity)))
            {
                return false; // FILE SYNC gave it the donor's mtime (as this file system keeps it): written since
            }
            final long[] was = carried.get(index);
            if (was == null)
            {
                return true;
            }
            if (was[0] != stamp[0] || was[1] != stamp[1] || was[2] != stamp[2])
            {
                return false;
            }
            // left alone by FILE SYNC (an update's entry that had the donor's metadata): nothing may have moved;
            // restored by FILE SYNC (times, mode, owner): its mtime and ctime moved, checked against the donor's above;
            // a pass that another follows: no FILE SYNC ran, so nothing may have moved either
            return afterFileSync && !entries.is(index, TargetEntries.UNCHANGED) || was[3] == stamp[3] && was[4] == stamp[4];
        }

        /** The mtime granularity of the copy's file system, in ns (1 on ext4 and XFS; a second or two elsewhere). */
        private long mtimeGranularity = 1;

        private void measureMtimeGranularity()
        {
            try
            {
                mtimeGranularity = MtimeGranularity.measureOn(stateFile);
            }
            catch (final IOException | RuntimeException ex)
            {
                mtimeGranularity = MtimeGranularity.UNKNOWN;
            }
        }

        private boolean unchangedSinceCarried(final TargetEntries entries, final int[] indexes)
        {
            for (final int index : indexes)
            {
                final long[] was = carried.get(index);
                if (was == null || !Arrays.equals(was, stamp(entries.get(index).resolved())))
                {
                    return false;
                }
            }
            return true;
        }

        /**
         * Close and delete the store being built (the clone failed, or will not keep it).
         */
        void abandon()
        {
            closeQuietly(channel);
            try
            {
                Files.deleteIfExists(stateFile);
            }
            catch (final IOException ignore)
            {
                // removed with .ferry/ later, or by the next clone
            }
        }
    }

    /**
     * Tests ({@code ferry.hashes.check}): every file the store at {@code target} describes, as the target holds it
     * now, hashes to what the store says.
     *
     * @throws FerryException INTERNAL at the first difference.
     */
    static void check(final Path target, final TargetEntries entries)
    {
        try (HashStore s = open(target))
        {
            if (s == null)
            {
                throw new FerryException(ErrorCode.INTERNAL, "the hash store just written cannot be opened");
            }
            final FileHashes hashes = new FileHashes(s.pieceSize);
            for (int i = 0; i < entries.size(); i++)
            {
                if (entries.type(i) != DescriptorFlyweight.FILE_REGULAR)
                {
                    continue;
                }
                final TargetEntry e = entries.get(i);
                if (s.find(e.pathBytes) < 0)
                {
                    continue;
                }
                final long pieces = (e.size + s.pieceSize - 1) / s.pieceSize;
                final long[] stored = s.lookup(e, pieces, s.pieceSize);
                final long[] actual = hashes.of(e.resolved(), pieces);
                if (stored == null || !Arrays.equals(stored, actual))
                {
                    int piece = -1;
                    for (int p = 0; stored != null && p < actual.length / 2 && piece < 0; p++)
                    {
                        if (p * 2 + 1 >= stored.length || stored[p * 2] != actual[p * 2] ||
                            stored[p * 2 + 1] != actual[p * 2 + 1])
                        {
                            piece = p;
                        }
                    }
                    throw new FerryException(ErrorCode.INTERNAL, "hash store check: '" + e.path() + "' " +
                        (stored == null ? "does not match its record" : "differs at piece " + piece + " of " + pieces));
                }
            }
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.INTERNAL, "hash store check failed: " + ex, ex);
        }
    }
}
