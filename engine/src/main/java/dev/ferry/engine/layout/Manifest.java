package dev.ferry.engine.layout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import dev.ferry.core.protocol.DescriptorFlyweight;

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
        public final int index;
        public final String path;
        public final byte[] pathBytes;
        public final int type;
        public final long size;
        public final int mode;
        public final long mtimeNanos;
        public final String linkTarget;
        public final byte[] linkTargetBytes;
        int firstChunk;
        int chunkSpan;

        public Entry(
            final int index, final String path, final int type, final long size, final int mode, final long mtimeNanos,
            final String linkTarget)
        {
            this.index = index;
            this.path = path;
            this.pathBytes = path.getBytes(StandardCharsets.UTF_8);
            this.type = type;
            this.size = size;
            this.mode = mode;
            this.mtimeNanos = mtimeNanos;
            this.linkTarget = linkTarget == null ? "" : linkTarget;
            this.linkTargetBytes = this.linkTarget.getBytes(StandardCharsets.UTF_8);
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

    public Manifest(final List<Entry> entries, final int skipped)
    {
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
     * @return entries that are neither regular files, directories nor symlinks (sockets, devices, FIFOs): not cloned.
     */
    public int skipped()
    {
        return skipped;
    }
}
