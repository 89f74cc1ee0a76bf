package dev.ferry.engine.recipient;

import java.nio.file.Path;
import java.util.Arrays;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.layout.Manifest;

/**
 * The recipient's table of the entries the donor announced, in manifest order, with nothing on the heap per entry
 * but one byte of state (issue 10: a million-file clone in {@code -Xmx64m}). The entries themselves live packed in
 * a {@link Manifest.Builder} (off-heap pages: names as bytes, the fixed fields, link targets and xattrs), the same
 * store the chunk plan is rebuilt from; {@link #get} materialises a {@link TargetEntry} view of one when asked, a
 * short-lived object that no stage keeps. What a stage learns of an entry after it arrived (kept by a resume or an
 * update, compared by pieces, found in the copy, left alone by FILE SYNC) is kept here by index: four bits in
 * {@link #state}, and, in an update only, what the copy held ({@link #present}).
 * <p>
 * Appended on the master task's thread during the metadata stage; read by the apply workers and FILE SYNC after the
 * volatile stage write that starts the file copy. The state changes after that only while the copy is hashed, before
 * data moves (one writer per entry).
 */
final class TargetEntries
{
    static final int KEPT = 1;
    static final int HAVE = 2;
    static final int EXISTED = 4;
    /** FILE SYNC of an update: the entry already has the donor's metadata and this update did not write it. */
    static final int UNCHANGED = 8;
    /**
     * A new regular file whose last byte this clone wrote: it has its length, and FILE SYNC need not look (set by the
     * apply worker that wrote that block; the state pages never move, and each byte has one writer at a time).
     */
    static final int LENGTH_WRITTEN = 16;
    /**
     * A new regular file written whole by one block whose mtime the apply worker set on the open file, with nothing
     * else for FILE SYNC to restore ({@link FileSyncStage#writerRestores}): FILE SYNC only forces it, if anything.
     */
    static final int RESTORED = 32;
    private static final int INITIAL = 1024;

    private final Path root;
    private final Manifest.Builder packed;
    /**
     * The state bytes, in pages that never move once made (only the table of pages grows, by copy): an apply worker
     * that sets a bit while the master appends entries of a streamed manifest writes the page every table shares.
     */
    private volatile byte[][] state = new byte[][] { new byte[PAGE] };
    private static final int PAGE_BITS = 12;
    private static final int PAGE = 1 << PAGE_BITS;
    /** An update's scan of the copy for entries it found in place: null until the first is recorded. */
    private ResumeMerge.OldEntry[] present;

    TargetEntries(final Path root)
    {
        this(root, new Manifest.Builder());
    }

    TargetEntries(final Path root, final Manifest.Builder packed)
    {
        this.root = root;
        this.packed = packed;
    }

    /**
     * Append the next entry (index {@link #size()}) to the packed store.
     *
     * @return a view of it.
     */
    TargetEntry add(final byte[] pathBytes, final int type, final long size, final int mode, final long mtimeNanos,
        final byte[] linkTargetBytes, final int uid, final int gid, final long rdev, final int flags,
        final int linkIndex, final int xattrCount, final byte[] xattrs)
    {
        final int index = packed.size();
        packed.add(pathBytes, 0, pathBytes.length, type, size, mode, mtimeNanos, linkTargetBytes, uid, gid, rdev,
            flags, linkIndex, xattrCount, xattrs);
        final byte[][] pages = state;
        if ((index >>> PAGE_BITS) >= pages.length)
        {
            final byte[][] grown = Arrays.copyOf(pages, pages.length * 2);
            for (int i = pages.length; i < grown.length; i++)
            {
                grown[i] = new byte[PAGE];
            }
            state = grown;
        }
        return new TargetEntry(this, index, pathBytes, type, size, mode, mtimeNanos,
            type == DescriptorFlyweight.FILE_SYMLINK ? linkTargetBytes : null, uid, gid, rdev, flags, linkIndex,
            xattrCount, xattrs);
    }

    /**
     * @return the number of entries appended.
     */
    int size()
    {
        return packed.size();
    }

    /**
     * @return a view of entry {@code index} (a new object on each call; {@code 0 <= index < size()}).
     */
    TargetEntry get(final int index)
    {
        final Manifest.Entry m = packed.entry(index);
        return new TargetEntry(this, index, m.pathBytes, m.type, m.size, m.mode, m.mtimeNanos,
            m.type == DescriptorFlyweight.FILE_SYMLINK ? m.linkTargetBytes : null, m.uid, m.gid, m.rdev, m.flags,
            m.linkIndex, m.xattrCount, m.xattrs);
    }

    /**
     * @return the type of entry {@code index}, without a view.
     */
    int type(final int index)
    {
        return packed.type(index);
    }

    Manifest.Builder packed()
    {
        return packed;
    }

    Path root()
    {
        return root;
    }

    /** The target directory's absolute path and a '/', as bytes: made at the first {@link #cPath}. */
    private volatile byte[] rootPrefix;

    /**
     * @return the NUL-terminated absolute native path of the entry whose relative path is {@code pathBytes} (not
     *     empty, checked by the manifest), with no {@link Path} made.
     */
    byte[] cPath(final byte[] pathBytes)
    {
        byte[] prefix = rootPrefix;
        if (prefix == null)
        {
            prefix = PathBytes.prefix(root);
            rootPrefix = prefix;
        }
        return PathBytes.cPath(prefix, pathBytes);
    }

    boolean is(final int index, final int bit)
    {
        return (state[index >>> PAGE_BITS][index & (PAGE - 1)] & bit) != 0;
    }

    void set(final int index, final int bit, final boolean on)
    {
        final byte[] page = state[index >>> PAGE_BITS];
        final int i = index & (PAGE - 1);
        page[i] = (byte)(on ? page[i] | bit : page[i] & ~bit);
    }

    private int capacity()
    {
        return state.length << PAGE_BITS;
    }

    ResumeMerge.OldEntry present(final int index)
    {
        return present == null ? null : present[index];
    }

    void present(final int index, final ResumeMerge.OldEntry o)
    {
        if (present == null)
        {
            if (o == null)
            {
                return;
            }
            present = new ResumeMerge.OldEntry[capacity()];
        }
        else if (present.length <= index)
        {
            present = Arrays.copyOf(present, capacity());
        }
        present[index] = o;
    }
}
