package dev.ferry.engine.recipient;

import java.nio.file.Path;

import dev.ferry.core.protocol.DescriptorFlyweight;

/**
 * What the recipient knows of one entry the donor announced: its path (the raw bytes as sent, shown to people as
 * {@link #path}, and resolved under the target), its type, size, mode, mtime, owner, device number, symlink target,
 * hard-link source, xattrs, and whether a resume kept it from an interrupted clone. Created by the
 * {@link ManifestReceiver} on the master task's thread; read by every stage after the manifest is complete (the
 * volatile stage write that ends the metadata stage publishes it). Only {@link #kept} and {@link #have} change later, and only in a
 * resume by manifest, before any data moves.
 */
final class TargetEntry
{
    /** For people and as a key: the display form of {@link #pathBytes} (one-to-one). */
    final String path;
    final byte[] pathBytes;
    final Path resolved;
    final int type;
    final long size;
    final int mode;
    final long mtimeNanos;
    /** The display form of {@link #linkTargetBytes}, or null unless a symlink. */
    final String linkTarget;
    final byte[] linkTargetBytes;
    final int uid;
    final int gid;
    final long rdev;
    final int flags;
    final int linkIndex;
    final int xattrCount;
    final byte[] xattrs;
    boolean kept;
    /**
     * The copy already holds a version of this regular file (an update, or a resume against a new snapshot): it is
     * kept in place, its pieces are hashed and sent in {@code COM_HAVE}, and the donor sends only the pieces that
     * differ. Set with {@link #kept} before any data moves.
     */
    boolean have;

    TargetEntry(final String path, final Path resolved, final int type, final long size, final int mode,
        final long mtimeNanos, final String linkTarget)
    {
        this(path, path.getBytes(java.nio.charset.StandardCharsets.UTF_8), resolved, type, size, mode, mtimeNanos,
            linkTarget, linkTarget == null ? null : linkTarget.getBytes(java.nio.charset.StandardCharsets.UTF_8),
            0, 0, 0, 0, DescriptorFlyweight.NO_LINK, 0, new byte[0]);
    }

    TargetEntry(final String path, final byte[] pathBytes, final Path resolved, final int type, final long size,
        final int mode, final long mtimeNanos, final String linkTarget, final byte[] linkTargetBytes, final int uid,
        final int gid, final long rdev, final int flags, final int linkIndex, final int xattrCount, final byte[] xattrs)
    {
        this.path = path;
        this.pathBytes = pathBytes;
        this.resolved = resolved;
        this.type = type;
        this.size = size;
        this.mode = mode;
        this.mtimeNanos = mtimeNanos;
        this.linkTarget = linkTarget;
        this.linkTargetBytes = linkTargetBytes;
        this.uid = uid;
        this.gid = gid;
        this.rdev = rdev;
        this.flags = flags;
        this.linkIndex = linkIndex;
        this.xattrCount = xattrCount;
        this.xattrs = xattrs;
    }

    /**
     * @return whether this is the target directory itself (entry 0 with the empty path).
     */
    boolean isRoot()
    {
        return pathBytes.length == 0;
    }
}
