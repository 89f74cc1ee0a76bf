package dev.ferry.engine.layout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.fs.PathBytes;

/**
 * The entries of a snapshot in a fixed order (parents before children): directories, regular files and symlinks
 * with their metadata. Built once by {@link ManifestScanner}; immutable after that and safe to share.
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
        /** For people and as a key: {@link PathBytes#display} of {@link #pathBytes}, which is one-to-one. */
        public final String path;
        /** The exact name bytes, relative to the root; empty only for the root directory itself (entry 0). */
        public final byte[] pathBytes;
        public final int type;
        public final long size;
        /** Permission bits, setuid, setgid and sticky included (07777). */
        public final int mode;
        public final long mtimeNanos;
        /** For people: {@link PathBytes#display} of {@link #linkTargetBytes}. */
        public final String linkTarget;
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
        int firstChunk;
        int chunkSpan;

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
            this.index = index;
            this.pathBytes = pathBytes;
            this.path = PathBytes.display(pathBytes);
            this.type = type;
            this.size = size;
            this.mode = mode;
            this.mtimeNanos = mtimeNanos;
            this.linkTargetBytes = linkTargetBytes == null ? NONE : linkTargetBytes;
            this.linkTarget = PathBytes.display(this.linkTargetBytes);
            this.uid = uid;
            this.gid = gid;
            this.rdev = rdev;
            this.flags = flags;
            this.linkIndex = linkIndex;
            this.xattrCount = xattrCount;
            this.xattrs = xattrs == null ? NONE : xattrs;
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

    private final List<Entry> entries;
    private final long totalBytes;
    private final int regularFiles;
    private final int skipped;
    private final List<String> warnings;

    public Manifest(final List<Entry> entries, final int skipped)
    {
        this(entries, skipped, List.of());
    }

    public Manifest(final List<Entry> entries, final int skipped, final List<String> warnings)
    {
        this.warnings = List.copyOf(warnings);
        this.entries = Collections.unmodifiableList(new ArrayList<>(entries));
        long bytes = 0;
        int files = 0;
        for (final Entry e : entries)
        {
            if (e.isRegular())
            {
                bytes += e.size;
                files++;
            }
        }
        this.totalBytes = bytes;
        this.regularFiles = files;
        this.skipped = skipped;
    }

    public List<Entry> entries()
    {
        return entries;
    }

    public Entry entry(final int index)
    {
        return entries.get(index);
    }

    public int size()
    {
        return entries.size();
    }

    /**
     * @return bytes of all regular files.
     */
    public long totalBytes()
    {
        return totalBytes;
    }

    public int regularFiles()
    {
        return regularFiles;
    }

    /**
     * @return entries not cloned: sockets, and the recipient's state directory at the top.
     */
    public int skipped()
    {
        return skipped;
    }

    /**
     * @return one line per entry the scan could not include (a socket), naming it.
     */
    public List<String> warnings()
    {
        return warnings;
    }
}
