package dev.ferry.engine.layout;

import java.nio.charset.StandardCharsets;
import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;

import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.Wire;
import dev.ferry.engine.fs.PathBytes;

/**
 * The entries of a snapshot in a fixed order (parents before children): directories, regular files, symlinks and
 * the other types with their metadata. Built once ({@link ManifestScanner}, or a {@link Builder} as FILE descriptors
 * arrive); immutable after that but for the chunk range {@link ChunkPlan#build} records, and safe to share.
 * <p>
 * Packed, not one object per entry (issue 10): a fixed record per entry in off-heap pages ({@link PagedStore}),
 * and a variable record with the names, the symlink target, the xattr section and a device number in a second
 * store. About {@link #FIXED_LENGTH} + 10 bytes + the path per entry, none of it on the heap.
 * {@link #entry} materialises a short-lived {@link Entry} for callers that want one; hot paths read fields by index.
 * <pre>
 * fixed record (native byte order)               variable record (little-endian, as on the wire)
 *  0 size          int64                           0 xattr count   uint16
 *  8 mtime nanos   int64                           2 xattr length  int32
 * 16 variable      int64 (address)                 6 path length   uint16, then the path bytes
 * 24 uid           int32                             target length uint16, then the target bytes
 * 28 gid           int32                             the xattr section (DescriptorFlyweight layout)
 * 32 link index    int32                             rdev          int64, devices only
 * 36 first chunk   int32
 * 40 chunk span    int32
 * 44 type int8, 45 flags int8, 46 mode uint16
 * </pre>
 */
public final class Manifest
{
    /**
     * One entry. {@code path} is relative to the root, '/'-separated, never empty.
     */
    public static final class Entry
    {
        private static final byte[] NONE = new byte[0];

        public final int index;
        /** {@link #path()}, made on first use: a view read per block need not build it. */
        private String path;
        /** The exact name bytes, relative to the root; empty only for the root directory itself (entry 0). */
        public final byte[] pathBytes;
        public final int type;
        public final long size;
        /** Permission bits, setuid, setgid and sticky included (07777). */
        public final int mode;
        public final long mtimeNanos;
        private String linkTarget;
        public final byte[] linkTargetBytes;
        public final int uid;
        public final int gid;
        /** Device number of a character or block device, else 0. */
        public final long rdev;
        /** {@link DescriptorFlyweight#FILE_FLAG_SPARSE} when the donor's copy has holes. */
        public final int flags;
        /** A hard link's earlier regular entry, else {@link DescriptorFlyweight#NO_LINK}. */
        public final int linkIndex;
        public final int xattrCount;
        /** The xattrs as their wire section ({@link DescriptorFlyweight#appendXattr}). */
        public final byte[] xattrs;
        private final int firstChunk;
        private final int chunkSpan;

        public Entry(
            final int index, final String path, final int type, final long size, final int mode, final long mtimeNanos,
            final String linkTarget)
        {
            this(index, path.getBytes(StandardCharsets.UTF_8), type, size, mode, mtimeNanos,
                linkTarget == null ? NONE : linkTarget.getBytes(StandardCharsets.UTF_8), 0, 0, 0, 0,
                DescriptorFlyweight.NO_LINK, 0, NONE);
        }

        public Entry(
            final int index, final byte[] pathBytes, final int type, final long size, final int mode,
            final long mtimeNanos, final byte[] linkTargetBytes, final int uid, final int gid, final long rdev,
            final int flags, final int linkIndex, final int xattrCount, final byte[] xattrs)
        {
            this(index, pathBytes, type, size, mode, mtimeNanos, linkTargetBytes, uid, gid, rdev, flags, linkIndex,
                xattrCount, xattrs, 0, 0);
        }

        Entry(
            final int index, final byte[] pathBytes, final int type, final long size, final int mode,
            final long mtimeNanos, final byte[] linkTargetBytes, final int uid, final int gid, final long rdev,
            final int flags, final int linkIndex, final int xattrCount, final byte[] xattrs, final int firstChunk,
            final int chunkSpan)
        {
            this.firstChunk = firstChunk;
            this.chunkSpan = chunkSpan;
            this.index = index;
            this.pathBytes = pathBytes;
            this.type = type;
            this.size = size;
            this.mode = mode;
            this.mtimeNanos = mtimeNanos;
            this.linkTargetBytes = linkTargetBytes == null ? NONE : linkTargetBytes;
            this.uid = uid;
            this.gid = gid;
            this.rdev = rdev;
            this.flags = flags;
            this.linkIndex = linkIndex;
            this.xattrCount = xattrCount;
            this.xattrs = xattrs == null ? NONE : xattrs;
        }

        /**
         * @return for people and as a key: {@link PathBytes#display} of {@link #pathBytes}, which is one-to-one.
         */
        public String path()
        {
            String p = path;
            if (p == null)
            {
                p = PathBytes.display(pathBytes);
                path = p; // racy but idempotent: any thread computes the same string
            }
            return p;
        }

        /**
         * @return for people: {@link PathBytes#display} of {@link #linkTargetBytes}.
         */
        public String linkTarget()
        {
            String t = linkTarget;
            if (t == null)
            {
                t = PathBytes.display(linkTargetBytes);
                linkTarget = t;
            }
            return t;
        }

        /**
         * @return whether this is the root directory itself (the empty path).
         */
        public boolean isRoot()
        {
            return pathBytes.length == 0;
        }

        public boolean isSparse()
        {
            return (flags & DescriptorFlyweight.FILE_FLAG_SPARSE) != 0;
        }

        public int firstChunk()
        {
            return firstChunk;
        }

        public int chunkSpan()
        {
            return chunkSpan;
        }

        public boolean isRegular()
        {
            return type == DescriptorFlyweight.FILE_REGULAR;
        }

        public boolean isDirectory()
        {
            return type == DescriptorFlyweight.FILE_DIRECTORY;
        }

        public boolean isSymlink()
        {
            return type == DescriptorFlyweight.FILE_SYMLINK;
        }

        @Override
        public String toString()
        {
            return path;
        }
    }

    /** Bytes of an entry's fixed record. */
    public static final int FIXED_LENGTH = 48;
    private static final int SIZE_OFFSET = 0;
    private static final int MTIME_OFFSET = 8;
    private static final int VAR_OFFSET = 16;
    private static final int UID_OFFSET = 24;
    private static final int GID_OFFSET = 28;
    private static final int LINK_INDEX_OFFSET = 32;
    private static final int FIRST_CHUNK_OFFSET = 36;
    private static final int CHUNK_SPAN_OFFSET = 40;
    private static final int TYPE_OFFSET = 44;
    private static final int FLAGS_OFFSET = 45;
    private static final int MODE_OFFSET = 46;
    private static final int PER_PAGE = PagedStore.PAGE_SIZE / FIXED_LENGTH;

    private static final int V_XATTR_COUNT_OFFSET = 0;
    private static final int V_XATTR_LENGTH_OFFSET = 2;
    private static final int V_PATH_OFFSET = 6;
    private static final java.nio.ByteOrder ORDER = Wire.BYTE_ORDER;

    private final PagedStore fixed;
    private final PagedStore names;
    private final int size;
    private final long totalBytes;
    private final int regularFiles;
    private final int skipped;
    private final List<String> warnings;
    /**
     * A growing manifest's builder (a streamed scan, or a recipient taking a streamed manifest): {@link #size} and the
     * totals are the builder's, read through its volatile count; null for a manifest built once.
     */
    private final Builder live;
    /** A growing manifest's end: the scan's skipped count and warnings, once it is complete. */
    private volatile Manifest finished;
    private final List<Entry> view = new EntryList();

    /**
     * Appends entries in manifest order, then {@link #build}s the manifest. One thread.
     */
    public static final class Builder
    {
        private final PagedStore fixed = new PagedStore();
        private final PagedStore names = new PagedStore();
        /** Volatile: a growing manifest's readers ({@link #live}) see entries below it complete. */
        private volatile int size;
        private long totalBytes;
        private int regularFiles;
        private boolean built;
        private Manifest liveView;

        /**
         * Append the next entry (its index is {@link #size()}).
         *
         * @param path       {@code pathLength} name bytes from {@code pathOffset} (empty for the root).
         * @param linkTarget a symlink's target, or null.
         * @param xattrs     the xattr section, or null for none.
         */
        public void add(
            final byte[] path, final int pathOffset, final int pathLength, final int type, final long fileSize,
            final int mode, final long mtimeNanos, final byte[] linkTarget, final int uid, final int gid, final long rdev,
            final int flags, final int linkIndex, final int xattrCount, final byte[] xattrs)
        {
            if (built)
            {
                throw new IllegalStateException("the manifest is built");
            }
            final int linkLength = linkTarget == null ? 0 : linkTarget.length;
            final int xattrLength = xattrs == null ? 0 : xattrs.length;
            final boolean device = type == DescriptorFlyweight.FILE_CHAR_DEVICE ||
                type == DescriptorFlyweight.FILE_BLOCK_DEVICE;
            final int varLength = V_PATH_OFFSET + 2 + pathLength + 2 + linkLength + xattrLength + (device ? 8 : 0);
            final long var = names.reserve(varLength);
            final UnsafeBuffer vb = names.page(var);
            int v = PagedStore.offset(var);
            vb.putShort(v + V_XATTR_COUNT_OFFSET, (short)xattrCount, ORDER);
            vb.putInt(v + V_XATTR_LENGTH_OFFSET, xattrLength, ORDER);
            v += V_PATH_OFFSET;
            vb.putShort(v, (short)pathLength, ORDER);
            vb.putBytes(v + 2, path, pathOffset, pathLength);
            v += 2 + pathLength;
            vb.putShort(v, (short)linkLength, ORDER);
            if (linkLength > 0)
            {
                vb.putBytes(v + 2, linkTarget);
            }
            v += 2 + linkLength;
            if (xattrLength > 0)
            {
                vb.putBytes(v, xattrs);
            }
            v += xattrLength;
            if (device)
            {
                vb.putLong(v, rdev, ORDER);
            }
            final long at = fixed.reserve(FIXED_LENGTH);
            final UnsafeBuffer fb = fixed.page(at);
            final int f = PagedStore.offset(at);
            fb.putLong(f + SIZE_OFFSET, fileSize);
            fb.putLong(f + MTIME_OFFSET, mtimeNanos);
            fb.putLong(f + VAR_OFFSET, var);
            fb.putInt(f + UID_OFFSET, uid);
            fb.putInt(f + GID_OFFSET, gid);
            fb.putInt(f + LINK_INDEX_OFFSET, linkIndex);
            fb.putInt(f + FIRST_CHUNK_OFFSET, 0);
            fb.putInt(f + CHUNK_SPAN_OFFSET, 0);
            fb.putByte(f + TYPE_OFFSET, (byte)type);
            fb.putByte(f + FLAGS_OFFSET, (byte)flags);
            fb.putShort(f + MODE_OFFSET, (short)mode);
            if (type == DescriptorFlyweight.FILE_REGULAR)
            {
                totalBytes += fileSize;
                regularFiles++;
            }
            size = size + 1; // the one writer; the volatile write publishes the entry to a live view's readers
        }

        public void add(final Entry e)
        {
            add(e.pathBytes, 0, e.pathBytes.length, e.type, e.size, e.mode, e.mtimeNanos, e.linkTargetBytes, e.uid,
                e.gid, e.rdev, e.flags, e.linkIndex, e.xattrCount, e.xattrs);
        }

        public int size()
        {
            return size;
        }

        /**
         * @return the type of entry {@code index}, already added.
         */
        public int type(final int index)
        {
            return fixed.pageAt(index / PER_PAGE).getByte(fixedOffset(index) + TYPE_OFFSET);
        }

        /**
         * @return the size of entry {@code index}, already added.
         */
        public long fileSize(final int index)
        {
            return fixed.pageAt(index / PER_PAGE).getLong(fixedOffset(index) + SIZE_OFFSET);
        }

        /**
         * @return entry {@code index}, already added, materialised (a new object on each call).
         */
        public Entry entry(final int index)
        {
            if (index < 0 || index >= size)
            {
                throw new IndexOutOfBoundsException("entry " + index + " of " + size);
            }
            return read(fixed, names, index);
        }

        /**
         * @return whether entry {@code index} has the path of {@code length} bytes of {@code path} from {@code offset}.
         */
        public boolean pathEquals(final int index, final byte[] path, final int offset, final int length)
        {
            final long var = fixed.pageAt(index / PER_PAGE).getLong(fixedOffset(index) + VAR_OFFSET);
            final UnsafeBuffer vb = names.page(var);
            final int v = PagedStore.offset(var) + V_PATH_OFFSET;
            if ((vb.getShort(v, ORDER) & 0xFFFF) != length)
            {
                return false;
            }
            for (int i = 0; i < length; i++)
            {
                if (vb.getByte(v + 2 + i) != path[offset + i])
                {
                    return false;
                }
            }
            return true;
        }

        /**
         * @return {@link PathIndex#hash} of entry {@code index}'s path.
         */
        int pathHash(final int index)
        {
            final long var = fixed.pageAt(index / PER_PAGE).getLong(fixedOffset(index) + VAR_OFFSET);
            final UnsafeBuffer vb = names.page(var);
            final int v = PagedStore.offset(var) + V_PATH_OFFSET;
            final int length = vb.getShort(v, ORDER) & 0xFFFF;
            int h = 0x811C9DC5;
            for (int i = 0; i < length; i++)
            {
                h = (h ^ (vb.getByte(v + 2 + i) & 0xFF)) * 0x01000193;
            }
            return h ^ (h >>> 16);
        }

        /**
         * @return the manifest of the entries added (the builder takes no more).
         */
        public Manifest build(final int skipped, final List<String> warnings)
        {
            built = true;
            return new Manifest(this, skipped, warnings);
        }

        /**
         * @return a view that grows as entries are added (a streamed manifest, PROTOCOL.md 6.5): other threads may
         *     read entries below its {@link Manifest#size()} while this builder appends; {@link Manifest#finish} ends
         *     it. The same view on every call.
         */
        public Manifest live()
        {
            if (liveView == null)
            {
                liveView = new Manifest(this);
            }
            return liveView;
        }
    }

    private Manifest(final Builder live)
    {
        this.fixed = live.fixed;
        this.names = live.names;
        this.size = -1;
        this.totalBytes = -1;
        this.regularFiles = -1;
        this.skipped = 0;
        this.warnings = List.of();
        this.live = live;
    }

    /**
     * End a growing manifest: {@code built}, the builder's manifest once the last entry was added, gives the skipped
     * count and the warnings. Its writer thread; readers see it through {@link #isComplete()}.
     */
    public void finish(final Manifest built)
    {
        if (live == null || built.fixed != fixed)
        {
            throw new IllegalStateException("not this manifest's builder");
        }
        finished = built;
    }

    /**
     * @return true unless this is a growing manifest that is not finished yet.
     */
    public boolean isComplete()
    {
        return live == null || finished != null;
    }

    public Manifest(final List<Entry> entries, final int skipped)
    {
        this(entries, skipped, List.of());
    }

    public Manifest(final List<Entry> entries, final int skipped, final List<String> warnings)
    {
        this(fill(entries), skipped, warnings);
    }

    private Manifest(final Builder b, final int skipped, final List<String> warnings)
    {
        this.fixed = b.fixed;
        this.names = b.names;
        this.size = b.size;
        this.totalBytes = b.totalBytes;
        this.regularFiles = b.regularFiles;
        this.skipped = skipped;
        this.warnings = List.copyOf(warnings);
        this.live = null;
    }

    private static Builder fill(final List<Entry> entries)
    {
        final Builder b = new Builder();
        for (final Entry e : entries)
        {
            b.add(e);
        }
        return b;
    }

    private UnsafeBuffer fixedPage(final int index)
    {
        final int n = live == null ? size : live.size;
        if (index < 0 || index >= n)
        {
            throw new IndexOutOfBoundsException("entry " + index + " of " + n);
        }
        return fixed.pageAt(index / PER_PAGE);
    }

    private static int fixedOffset(final int index)
    {
        return (index % PER_PAGE) * FIXED_LENGTH;
    }

    /**
     * @return a view of the entries: each {@link List#get} materialises one.
     */
    public List<Entry> entries()
    {
        return view;
    }

    /**
     * @return entry {@code index}, materialised (a new object each call; hot paths read fields by index).
     */
    public Entry entry(final int index)
    {
        fixedPage(index); // bounds
        return read(fixed, names, index);
    }

    /**
     * Entry {@code index} of the two stores, materialised.
     */
    private static Entry read(final PagedStore fixed, final PagedStore names, final int index)
    {
        final UnsafeBuffer fb = fixed.pageAt(index / PER_PAGE);
        final int f = fixedOffset(index);
        final long var = fb.getLong(f + VAR_OFFSET);
        final UnsafeBuffer vb = names.page(var);
        final int start = PagedStore.offset(var);
        final int xattrCount = vb.getShort(start + V_XATTR_COUNT_OFFSET, ORDER) & 0xFFFF;
        final int xattrLength = vb.getInt(start + V_XATTR_LENGTH_OFFSET, ORDER);
        int v = start + V_PATH_OFFSET;
        final byte[] path = new byte[vb.getShort(v, ORDER) & 0xFFFF];
        vb.getBytes(v + 2, path);
        v += 2 + path.length;
        final byte[] link = new byte[vb.getShort(v, ORDER) & 0xFFFF];
        vb.getBytes(v + 2, link);
        v += 2 + link.length;
        final byte[] xattrs = new byte[xattrLength];
        vb.getBytes(v, xattrs);
        v += xattrLength;
        final int type = fb.getByte(f + TYPE_OFFSET);
        final long rdev = type == DescriptorFlyweight.FILE_CHAR_DEVICE || type == DescriptorFlyweight.FILE_BLOCK_DEVICE ?
            vb.getLong(v, ORDER) : 0;
        return new Entry(index, path, type, fb.getLong(f + SIZE_OFFSET), fb.getShort(f + MODE_OFFSET) & 0xFFFF,
            fb.getLong(f + MTIME_OFFSET), link, fb.getInt(f + UID_OFFSET), fb.getInt(f + GID_OFFSET), rdev,
            fb.getByte(f + FLAGS_OFFSET), fb.getInt(f + LINK_INDEX_OFFSET), xattrCount, xattrs,
            fb.getInt(f + FIRST_CHUNK_OFFSET), fb.getInt(f + CHUNK_SPAN_OFFSET));
    }

    public int type(final int index)
    {
        return fixedPage(index).getByte(fixedOffset(index) + TYPE_OFFSET);
    }

    public boolean isRegular(final int index)
    {
        return type(index) == DescriptorFlyweight.FILE_REGULAR;
    }

    public long size(final int index)
    {
        return fixedPage(index).getLong(fixedOffset(index) + SIZE_OFFSET);
    }

    public long mtimeNanos(final int index)
    {
        return fixedPage(index).getLong(fixedOffset(index) + MTIME_OFFSET);
    }

    public int mode(final int index)
    {
        return fixedPage(index).getShort(fixedOffset(index) + MODE_OFFSET) & 0xFFFF;
    }

    public int flags(final int index)
    {
        return fixedPage(index).getByte(fixedOffset(index) + FLAGS_OFFSET);
    }

    public int uid(final int index)
    {
        return fixedPage(index).getInt(fixedOffset(index) + UID_OFFSET);
    }

    public int gid(final int index)
    {
        return fixedPage(index).getInt(fixedOffset(index) + GID_OFFSET);
    }

    public int linkIndex(final int index)
    {
        return fixedPage(index).getInt(fixedOffset(index) + LINK_INDEX_OFFSET);
    }

    public int firstChunk(final int index)
    {
        return fixedPage(index).getInt(fixedOffset(index) + FIRST_CHUNK_OFFSET);
    }

    public int chunkSpan(final int index)
    {
        return fixedPage(index).getInt(fixedOffset(index) + CHUNK_SPAN_OFFSET);
    }

    /**
     * Record an entry's chunk range ({@link ChunkPlan#build}, before the manifest is shared).
     */
    void chunks(final int index, final int firstChunk, final int chunkSpan)
    {
        final UnsafeBuffer fb = fixedPage(index);
        final int f = fixedOffset(index);
        fb.putInt(f + FIRST_CHUNK_OFFSET, firstChunk);
        fb.putInt(f + CHUNK_SPAN_OFFSET, chunkSpan);
    }

    /**
     * @return a device's number, else 0.
     */
    public long rdev(final int index)
    {
        final int type = type(index);
        if (type != DescriptorFlyweight.FILE_CHAR_DEVICE && type != DescriptorFlyweight.FILE_BLOCK_DEVICE)
        {
            return 0;
        }
        final long var = fixedPage(index).getLong(fixedOffset(index) + VAR_OFFSET);
        final UnsafeBuffer vb = names.page(var);
        final int v = PagedStore.offset(var);
        return vb.getLong(v + V_PATH_OFFSET + stringsAndXattrs(vb, v), ORDER);
    }

    private static int stringsAndXattrs(final UnsafeBuffer vb, final int v)
    {
        int p = v + V_PATH_OFFSET;
        p += 2 + (vb.getShort(p, ORDER) & 0xFFFF);
        p += 2 + (vb.getShort(p, ORDER) & 0xFFFF);
        return p - v - V_PATH_OFFSET + vb.getInt(v + V_XATTR_LENGTH_OFFSET, ORDER);
    }

    /**
     * Encode entry {@code index} as a FILE descriptor ({@link DescriptorFlyweight#encodeFile}) without materialising
     * it: the names and the xattr section are copied as they lie in the store, already in their wire form.
     *
     * @return the descriptor's length.
     */
    public int encodeFile(final MutableDirectBuffer b, final int o, final int index)
    {
        final UnsafeBuffer fb = fixedPage(index);
        final int f = fixedOffset(index);
        final long var = fb.getLong(f + VAR_OFFSET);
        final UnsafeBuffer vb = names.page(var);
        final int v = PagedStore.offset(var);
        final int tail = stringsAndXattrs(vb, v);
        final int head = DescriptorFlyweight.encodeFile(b, o, index, fb.getLong(f + SIZE_OFFSET),
            fb.getLong(f + MTIME_OFFSET), fb.getShort(f + MODE_OFFSET) & 0xFFFF, fb.getByte(f + TYPE_OFFSET),
            fb.getByte(f + FLAGS_OFFSET), fb.getInt(f + FIRST_CHUNK_OFFSET), fb.getInt(f + CHUNK_SPAN_OFFSET),
            fb.getInt(f + UID_OFFSET), fb.getInt(f + GID_OFFSET), rdev(index), fb.getInt(f + LINK_INDEX_OFFSET),
            NO_BYTES, NO_BYTES, vb.getShort(v + V_XATTR_COUNT_OFFSET, ORDER) & 0xFFFF, NO_BYTES);
        // the header as encodeFile wrote it (two empty strings), then the strings and xattrs copied in place
        final int start = o + head - 2 * Wire.STRING_LENGTH_SIZE;
        b.putInt(o + DescriptorFlyweight.FILE_XATTR_LENGTH_OFFSET, vb.getInt(v + V_XATTR_LENGTH_OFFSET, ORDER), ORDER);
        b.putBytes(start, vb, v + V_PATH_OFFSET, tail);
        return start + tail - o;
    }

    /**
     * @return the path's display form ({@link PathBytes#display}), for messages.
     */
    public String path(final int index)
    {
        final long var = fixedPage(index).getLong(fixedOffset(index) + VAR_OFFSET);
        final UnsafeBuffer vb = names.page(var);
        final int v = PagedStore.offset(var) + V_PATH_OFFSET;
        final byte[] path = new byte[vb.getShort(v, ORDER) & 0xFFFF];
        vb.getBytes(v + 2, path);
        return PathBytes.display(path);
    }

    public int size()
    {
        return live == null ? size : live.size;
    }

    /**
     * @return off-heap bytes the entries take (both stores).
     */
    public long storeBytes()
    {
        return fixed.capacity() + names.capacity();
    }

    /**
     * @return bytes of all regular files.
     */
    public long totalBytes()
    {
        final Manifest f = finished;
        return live == null ? totalBytes : f != null ? f.totalBytes : -1;
    }

    public int regularFiles()
    {
        final Manifest f = finished;
        return live == null ? regularFiles : f != null ? f.regularFiles : -1;
    }

    /**
     * @return entries not cloned: sockets, and the recipient's state directory at the top.
     */
    public int skipped()
    {
        final Manifest f = finished;
        return live == null || f == null ? skipped : f.skipped;
    }

    /**
     * @return one line per entry the scan could not include (a socket), naming it.
     */
    public List<String> warnings()
    {
        final Manifest f = finished;
        return live == null || f == null ? warnings : f.warnings;
    }

    private static final byte[] NO_BYTES = new byte[0];

    private final class EntryList extends AbstractList<Entry> implements RandomAccess
    {
        @Override
        public Entry get(final int index)
        {
            return entry(index);
        }

        @Override
        public int size()
        {
            return Manifest.this.size();
        }
    }
}
