package dev.ferry.engine.recipient;

import java.nio.file.Path;

import dev.ferry.engine.fs.PathBytes;

/**
 * A view of one entry the donor announced, made by {@link TargetEntries} when asked (nothing holds one for long: the
 * entries lie packed off the heap). Its path (the raw bytes as sent, shown to people as {@link #path()}, and
 * {@link #resolved()} under the target, both made when asked), its type, size, mode, mtime, owner, device number,
 * symlink target, hard-link source and xattrs are copies of the packed record. What stages learn of the entry later
 * ({@link #kept()}, {@link #have()}, {@link #existed()}, {@link #present()}) is read from and written to its table,
 * so every view of the same entry sees it; it changes only in a resume by manifest or an update, before any data
 * moves.
 */
final class TargetEntry
{
    private static final byte[] NONE = new byte[0];

    private final TargetEntries table;
    final int index;
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

    TargetEntry(final TargetEntries table, final int index, final byte[] pathBytes, final int type, final long size,
        final int mode, final long mtimeNanos, final byte[] linkTargetBytes, final int uid, final int gid,
        final long rdev, final int flags, final int linkIndex, final int xattrCount, final byte[] xattrs)
    {
        this.table = table;
        this.index = index;
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
     * @return whether a resume or an update keeps this regular file as the copy holds it (the quick check, or a move).
     */
    boolean kept()
    {
        return table.is(index, TargetEntries.KEPT);
    }

    void kept(final boolean v)
    {
        table.set(index, TargetEntries.KEPT, v);
    }

    /**
     * @return whether the copy already holds a version of this regular file (an update, or a resume against a new
     *     snapshot): it is kept in place, its pieces are hashed and sent in {@code COM_HAVE}, and the donor sends
     *     only the pieces that differ. Set with {@link #kept()} before any data moves.
     */
    boolean have()
    {
        return table.is(index, TargetEntries.HAVE);
    }

    void have(final boolean v)
    {
        table.set(index, TargetEntries.HAVE, v);
    }

    /**
     * @return whether the copy held an entry of this type at this path before this clone reached it (an update, or a
     *     resume against a new snapshot): its mode is whatever it was, not the mode new entries get, so FILE SYNC
     *     sets the mode it needs.
     */
    boolean existed()
    {
        return table.is(index, TargetEntries.EXISTED);
    }

    void existed(final boolean v)
    {
        table.set(index, TargetEntries.EXISTED, v);
    }

    /**
     * @return an update only: what the copy held at this path when the update scanned it (mode, owner, mtime,
     *     xattrs), for an entry this update does not write (a file kept or moved into place, a directory). FILE SYNC
     *     neither restores nor forces an entry whose metadata this already equals: a no-change update touches no
     *     inode. Null otherwise.
     */
    ResumeMerge.OldEntry present()
    {
        return table.present(index);
    }

    void present(final ResumeMerge.OldEntry o)
    {
        table.present(index, o);
    }

    /**
     * @return for people and as a key: the display form of {@link #pathBytes} (one-to-one); made on each call.
     */
    String path()
    {
        return PathBytes.display(pathBytes);
    }

    /**
     * @return {@link #resolved()} as a NUL-terminated native path, made without a {@link Path}; not for the target
     *     directory itself.
     */
    byte[] cPath()
    {
        return table.cPath(pathBytes);
    }

    /**
     * @return the entry's path under the target, made on each call (a million of them held cost ~120 MB: issue 10);
     * {@link ManifestReceiver} checked when the entry arrived that it stays inside the target.
     */
    Path resolved()
    {
        return pathBytes.length == 0 ? table.root() : PathBytes.resolve(table.root(), pathBytes);
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
