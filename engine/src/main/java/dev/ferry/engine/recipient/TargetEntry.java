package dev.ferry.engine.recipient;

import java.nio.file.Path;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.fs.PathBytes;

/**
 * What the recipient knows of one entry the donor announced: its path (the raw bytes as sent, shown to people as
 * {@link #path()}, and {@link #resolved()} under the target, both made when asked so an entry holds one copy of its
 * name), its type, size, mode, mtime, owner, device number, symlink target,
 * hard-link source, xattrs, and whether a resume kept it from an interrupted clone. Created by the
 * {@link ManifestReceiver} on the master task's thread; read by every stage after the manifest is complete (the
 * volatile stage write that ends the metadata stage publishes it). Only {@link #kept}, {@link #have},
 * {@link #existed} and {@link #present} change later, and only in a resume by manifest or an update, before any data
 * moves.
 */
final class TargetEntry
{
    private static final byte[] NONE = new byte[0];

    /** The target directory: {@link #resolved()} is computed from it and {@link #pathBytes} when asked. */
    private final Path root;
    final byte[] pathBytes;
    final int type;
    final long size;
    final int mode;
    final long mtimeNanos;
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
    /**
     * The copy held an entry of this type at this path before this clone reached it (an update, or a resume against a
     * new snapshot): its mode is whatever it was, not the mode new entries get, so FILE SYNC sets the mode it needs.
     */
    boolean existed;
    /**
     * An update only: what the copy held at this path when the update scanned it (mode, owner, mtime, xattrs), for an
     * entry this update does not write (a file kept or moved into place, a directory). FILE SYNC neither restores
     * nor forces an entry whose metadata this already equals: a no-change update touches no inode. Null otherwise.
     */
    ResumeMerge.OldEntry present;

    TargetEntry(final byte[] pathBytes, final Path root, final int type, final long size, final int mode,
        final long mtimeNanos, final byte[] linkTargetBytes, final int uid, final int gid, final long rdev,
        final int flags, final int linkIndex, final int xattrCount, final byte[] xattrs)
    {
        this.root = root;
        this.pathBytes = pathBytes;
        this.type = type;
        this.size = size;
        this.mode = mode;
        this.mtimeNanos = mtimeNanos;
        this.linkTargetBytes = linkTargetBytes;
        this.uid = uid;
        this.gid = gid;
        this.rdev = rdev;
        this.flags = flags;
        this.linkIndex = linkIndex;
        this.xattrCount = xattrCount;
        this.xattrs = xattrs == null || xattrs.length == 0 ? NONE : xattrs;
    }

    /**
     * @return for people and as a key: the display form of {@link #pathBytes} (one-to-one); made on each call.
     */
    String path()
    {
        return PathBytes.display(pathBytes);
    }

    /**
     * @return the entry's path under the target, made on each call (a million of them held cost ~120 MB: issue 10);
     * {@link ManifestReceiver} checked when the entry arrived that it stays inside the target.
     */
    Path resolved()
    {
        return pathBytes.length == 0 ? root : PathBytes.resolve(root, pathBytes);
    }

    /**
     * @return the display form of {@link #linkTargetBytes}, or null unless a symlink.
     */
    String linkTarget()
    {
        return linkTargetBytes == null ? null : PathBytes.display(linkTargetBytes);
    }

    /**
     * @return whether this is the target directory itself (entry 0 with the empty path).
     */
    boolean isRoot()
    {
        return pathBytes.length == 0;
    }
}
