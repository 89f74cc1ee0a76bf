package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.ManifestScanner;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.PeerText;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.RecipientStorage;
import dev.ferry.core.spi.Stage;

import static dev.ferry.engine.recipient.RecipientFiles.deleteTree;
import static dev.ferry.engine.recipient.RecipientFiles.io;

/**
 * Continuing an interrupted clone from its journal:
 * <ul>
 *   <li>against the <em>same snapshot</em> ({@link #replaySameSnapshot}): the journaled manifest is applied again
 *   without journaling it, so the entries are known and nothing that exists is created twice;</li>
 *   <li>against a <em>new snapshot</em> (an instance, made from the old journal): each entry the donor announces is
 *   compared with what the interrupted clone had at its path ({@link #merge}); a regular file whose type, size and
 *   mtime match and whose blocks were all journaled is kept, anything else there is deleted; entries that vanished on
 *   the donor are removed when the manifest is complete ({@link #removeVanished}); the applied state of the new
 *   snapshot then counts the kept files as applied ({@link #mergedApplied}).</li>
 * </ul>
 * Master task's thread (with the manifest), then the clone's driver.
 */
final class ResumeMerge
{
    /**
     * An entry of an interrupted clone's manifest and whether all its bytes were journaled.
     */
    static final class OldEntry
    {
        final int type;
        final long size;
        final long mtimeNanos;
        final boolean complete;
        /** Its inode has other names in the copy: never written in place (that would change the other names). */
        final boolean linked;
        /** Written within the donor's racy window of its scan: its mtime cannot vouch for its content. */
        boolean recent;
        boolean seen;

        final byte[] pathBytes;
        /**
         * An update: the entry is what the scan of the copy saw, and {@link #mode}, {@link #uid}, {@link #gid}, the
         * xattrs and the link target are known (FILE SYNC compares them with the donor's). False from a journal.
         */
        final boolean scanned;
        final int mode;
        final int uid;
        final int gid;
        final int xattrCount;
        final byte[] xattrs;
        final byte[] linkTargetBytes;

        OldEntry(final int type, final long size, final long mtimeNanos, final boolean complete, final boolean linked,
            final byte[] pathBytes)
        {
            this(type, size, mtimeNanos, complete, linked, pathBytes, null);
        }

        OldEntry(final int type, final long size, final long mtimeNanos, final boolean complete, final boolean linked,
            final byte[] pathBytes, final Manifest.Entry scanned)
        {
            this.scanned = scanned != null;
            this.mode = scanned != null ? scanned.mode : 0;
            this.uid = scanned != null ? scanned.uid : 0;
            this.gid = scanned != null ? scanned.gid : 0;
            this.xattrCount = scanned != null ? scanned.xattrCount : 0;
            this.xattrs = scanned != null ? scanned.xattrs : null;
            this.linkTargetBytes = scanned != null ? scanned.linkTargetBytes : null;
            this.pathBytes = pathBytes;
            this.type = type;
            this.size = size;
            this.mtimeNanos = mtimeNanos;
            this.complete = complete;
            this.linked = linked;
        }
    }

    private final Path target;
    /** What the copy had, by path: an interrupted clone's journal, or the target's tree (an update). */
    private final Map<String, OldEntry> old = new HashMap<>();
    /** Compare piece hashes of every file that exists, even when its size and mtime match. */
    private final boolean checksum;
    /** How finely the copy keeps mtimes ({@link MtimeGranularity}): the quick check compares at it. */
    private long granularity = MtimeGranularity.EXACT;
    private long moved;
    /**
     * The newest mtime among the copy's regular files, found by {@link #ofTree} (an update); Long.MIN_VALUE if it
     * has none, or for a merge with a resume journal.
     */
    private long newestFileMtime = Long.MIN_VALUE;

    long newestFileMtime()
    {
        return newestFileMtime;
    }

    /**
     * An update: what the copy has is the target's tree as it is now (scanned like a donor's tree, by raw names).
     */
    static ResumeMerge ofTree(final Path target, final boolean checksum, final long granularity)
    {
        final ResumeMerge m = new ResumeMerge(target, null, checksum);
        m.granularity = granularity;
        final Manifest tree;
        try
        {
            tree = ManifestScanner.scan(target);
        }
        catch (final RuntimeException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot read the copy to update in " + target + ": " +
                PeerText.escape(String.valueOf(ex.getMessage())), ex);
        }
        final boolean[] linked = new boolean[tree.size()];
        final Manifest.Entry[] scanned = new Manifest.Entry[tree.size()]; // decoded once
        for (int i = 0; i < tree.size(); i++)
        {
            final Manifest.Entry e = tree.entry(i);
            scanned[i] = e;
            if (e.type == DescriptorFlyweight.FILE_HARDLINK && e.linkIndex >= 0 && e.linkIndex < linked.length)
            {
                linked[i] = true;
                linked[e.linkIndex] = true;
            }
        }
        for (int i = 0; i < tree.size(); i++)
        {
            final Manifest.Entry e = scanned[i];
            if (e.type == DescriptorFlyweight.FILE_REGULAR || e.type == DescriptorFlyweight.FILE_HARDLINK)
            {
                m.newestFileMtime = Math.max(m.newestFileMtime, e.mtimeNanos);
            }
            m.old.put(e.path(), new OldEntry(e.type == DescriptorFlyweight.FILE_HARDLINK ? DescriptorFlyweight.FILE_REGULAR :
                e.type, e.size, e.mtimeNanos, true, linked[i], e.pathBytes, e));
        }
        return m;
    }

    /**
     * @param loaded the journal, or null when the interrupted clone had not recorded its manifest yet.
     */
    ResumeMerge(final Path target, final RecipientJournal.Loaded loaded, final boolean checksum)
    {
        this.target = target;
        this.checksum = checksum;
        if (loaded == null)
        {
            return;
        }
        final List<Manifest.Entry> oldEntries = new ArrayList<>();
        final DescriptorFlyweight d = new DescriptorFlyweight();
        final UnsafeBuffer b = new UnsafeBuffer(new byte[0]);
        int blockSizeOld = loaded.blockSize;
        for (final byte[] bytes : loaded.descriptors)
        {
            b.wrap(bytes);
            d.wrap(b, 0, bytes.length);
            if (d.validate() != ErrorCode.OK)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "the resume journal holds a damaged descriptor");
            }
            if (d.type() == DescriptorFlyweight.TYPE_FILE)
            {
                oldEntries.add(new Manifest.Entry(oldEntries.size(), d.pathBytes(), d.fileType(), d.fileSize(), d.mode(),
                    d.mtimeNanos(), d.fileType() == DescriptorFlyweight.FILE_SYMLINK ? d.linkTargetBytes() : null,
                    d.uid(), d.gid(), d.rdev(), d.fileFlags(), d.linkIndex(), d.xattrCount(), d.xattrBytes()));
            }
            else if (d.type() == DescriptorFlyweight.TYPE_STATE)
            {
                blockSizeOld = d.blockSize();
            }
        }
        final ChunkPlan oldPlan = ChunkPlan.build(new Manifest(oldEntries, 0), loaded.chunkSize, blockSizeOld,
            loaded.filesPerChunk);
        final boolean[] complete = new boolean[oldEntries.size()];
        Arrays.fill(complete, true);
        for (int c = 0; c < oldPlan.chunkCount(); c++)
        {
            final boolean chunkDone = loaded.applied != null && c < loaded.applied.chunkCount() && loaded.applied.isComplete(c);
            final int appliedBlocks = loaded.applied != null && c < loaded.applied.chunkCount() ?
                loaded.applied.appliedBlocks(c) : 0;
            for (int sg = oldPlan.firstSegment(c); sg < oldPlan.firstSegment(c) + oldPlan.segmentCount(c); sg++)
            {
                if (!chunkDone && oldPlan.segmentFirstBlock(sg) + oldPlan.segmentBlocks(sg) > appliedBlocks)
                {
                    complete[oldPlan.segmentFile(sg)] = false;
                }
            }
        }
        for (final int t : loaded.torn)
        {
            if (t >= 0 && t < complete.length)
            {
                complete[t] = false; // a block of it was torn in a live pass: compare it, never keep it
            }
        }
        for (final Manifest.Entry e : oldEntries)
        {
            final OldEntry o = new OldEntry(e.type, e.size, e.mtimeNanos, complete[e.index], false, e.pathBytes);
            o.recent = (e.flags & DescriptorFlyweight.FILE_FLAG_RECENT) != 0;
            old.put(e.path(), o);
        }
    }

    /**
     * Same snapshot: apply the journaled manifest again through {@code storage}, with journaling off.
     */
    static void replaySameSnapshot(final RecipientJournal.Loaded loaded, final RecipientStorage storage,
        final ManifestReceiver manifest)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[0]);
        int i = 0;
        for (final byte[] d : loaded.descriptors)
        {
            b.wrap(d);
            storage.apply(null, 0, b, 0, d.length, null);
            if (i++ == 0 && manifest.stage() != Stage.METADATA)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "the resume journal does not start with a manifest");
            }
        }
    }

    /**
     * Decide what to do with whatever the interrupted clone left at this entry's path.
     */
    void merge(final TargetEntry e) throws IOException
    {
        final OldEntry o = old.get(e.path());
        if (o != null)
        {
            o.seen = true;
        }
        final int hereType;
        final long hereSize;
        if (o != null && o.scanned)
        {
            // an update: the scan of the copy, a moment ago, says what is here (rsync trusts its scan the same way);
            // nothing the merge removed since can be under this path, since the donor has no entries under a file
            hereType = o.type; // a second name of a file is REGULAR here, and linked
            hereSize = o.size;
        }
        else
        {
            final BasicFileAttributes a;
            try
            {
                a = Files.readAttributes(e.resolved(), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS); // one lstat
            }
            catch (final NoSuchFileException ex)
            {
                return;
            }
            hereType = a.isDirectory() ? DescriptorFlyweight.FILE_DIRECTORY : a.isRegularFile() ?
                DescriptorFlyweight.FILE_REGULAR : a.isSymbolicLink() ? DescriptorFlyweight.FILE_SYMLINK : -1;
            hereSize = a.size();
        }
        if (e.type == DescriptorFlyweight.FILE_DIRECTORY)
        {
            if (hereType != DescriptorFlyweight.FILE_DIRECTORY)
            {
                deleteTree(e.resolved());
                return;
            }
            e.existed(true);
            e.present(o != null && o.scanned && o.type == DescriptorFlyweight.FILE_DIRECTORY ? o : null);
            return;
        }
        if (e.type == DescriptorFlyweight.FILE_SYMLINK && o != null && o.scanned &&
            o.type == DescriptorFlyweight.FILE_SYMLINK && Arrays.equals(o.linkTargetBytes, e.linkTargetBytes))
        {
            e.existed(true);
            e.present(o); // an update: the same link is here; FILE SYNC keeps it instead of making it again
            return;
        }
        if (e.type == DescriptorFlyweight.FILE_REGULAR && hereType == DescriptorFlyweight.FILE_REGULAR &&
            (o == null || !o.linked))
        {
            e.existed(true);
            if (!checksum && o != null && !o.recent && o.type == e.type && o.complete && o.size == e.size &&
                MtimeGranularity.same(o.mtimeNanos, e.mtimeNanos, granularity) && hereSize == e.size)
            {
                e.kept(true); // the quick check: same size and mtime, all of it written
                e.present(o.scanned ? o : null); // not written by this update: FILE SYNC compares its metadata
            }
            else if (e.size > 0)
            {
                e.have(true); // a version of it is here: compare pieces, send only those that differ
            }
            return; // an empty file needs no bytes: FILE SYNC gives it its length
        }
        deleteTree(e.resolved());
    }

    /**
     * The manifest is complete: move files that the donor renamed (a new path with no file, where a file of the same
     * size and mtime vanished from the copy) instead of sending them again, then remove what the donor no longer has.
     */
    void complete(final TargetEntries entries, final int count)
    {
        final Map<String, List<OldEntry>> vanished = new HashMap<>();
        for (final OldEntry o : old.values())
        {
            if (!o.seen && !o.linked && o.complete && o.type == DescriptorFlyweight.FILE_REGULAR && o.size > 0)
            {
                vanished.computeIfAbsent(o.size + ":" + o.mtimeNanos, k -> new ArrayList<>()).add(o);
            }
        }
        if (!vanished.isEmpty())
        {
            for (int i = 0; i < count; i++)
            {
                if (entries.type(i) != DescriptorFlyweight.FILE_REGULAR || entries.is(i, TargetEntries.KEPT) ||
                    entries.is(i, TargetEntries.HAVE))
                {
                    continue;
                }
                final TargetEntry e = entries.get(i);
                if (e.size == 0)
                {
                    continue;
                }
                final List<OldEntry> candidates = vanished.get(e.size + ":" +
                    MtimeGranularity.kept(e.mtimeNanos, granularity)); // the copy's mtime as its file system keeps it
                if (candidates == null || candidates.isEmpty() || Files.exists(e.resolved(), LinkOption.NOFOLLOW_LINKS))
                {
                    continue;
                }
                final OldEntry o = pick(candidates, e.pathBytes);
                final Path from = dev.ferry.engine.fs.PathBytes.resolve(target, o.pathBytes);
                final long[] before;
                try
                {
                    if (!Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS))
                    {
                        continue;
                    }
                    // the file as it was before the move (which changes its ctime): its hash store record is checked
                    // against this, under its old path
                    before = HashStore.Builder.wanted(e.size) ? HashStore.stamp(from) : null;
                    Files.move(from, e.resolved(), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                }
                catch (final IOException ex)
                {
                    continue; // not movable (another file system, a race): it is sent instead
                }
                o.seen = true;
                moved++;
                if (before != null)
                {
                    movedFrom.put(i, new Moved(o.pathBytes, before));
                }
                e.existed(true);
                if (checksum || o.mtimeNanos != e.mtimeNanos)
                {
                    e.have(true); // matched only at the copy's mtime granularity: the pieces decide
                }
                else
                {
                    e.kept(true);
                    e.present(o.scanned ? o : null); // rename(2) keeps the inode: mode, owner, mtime, xattrs
                }
            }
        }
        removeVanished();
    }

    /**
     * @return the candidate with the same file name if there is one (a moved directory), else the first.
     */
    private static OldEntry pick(final List<OldEntry> candidates, final byte[] newPath)
    {
        for (int i = 0; i < candidates.size(); i++)
        {
            if (Arrays.equals(lastName(candidates.get(i).pathBytes), lastName(newPath)))
            {
                return candidates.remove(i);
            }
        }
        return candidates.remove(0);
    }

    private static byte[] lastName(final byte[] path)
    {
        int i = path.length - 1;
        while (i >= 0 && path[i] != '/')
        {
            i--;
        }
        return Arrays.copyOfRange(path, i + 1, path.length);
    }

    long moved()
    {
        return moved;
    }

    /** A file this merge moved into place: its old path, and its stamp just before the move. */
    record Moved(byte[] oldPath, long[] stampBefore)
    {
    }

    private final org.agrona.collections.Int2ObjectHashMap<Moved> movedFrom =
        new org.agrona.collections.Int2ObjectHashMap<>();

    /**
     * @return how entry {@code index} came to be here if this merge moved it from another path (a rename on the
     *     donor) and it is large enough for the hash store, else null.
     */
    Moved movedFrom(final int index)
    {
        return movedFrom.get(index);
    }

    /**
     * The manifest is complete: remove what the interrupted clone had and the donor no longer has, deepest first.
     */
    private void removeVanished()
    {
        final List<OldEntry> gone = new ArrayList<>();
        for (final Map.Entry<String, OldEntry> o : old.entrySet())
        {
            if (!o.getValue().seen && o.getValue().pathBytes.length > 0)
            {
                gone.add(o.getValue());
            }
        }
        gone.sort((a, b) -> b.pathBytes.length - a.pathBytes.length);
        for (final OldEntry g : gone)
        {
            final String path = dev.ferry.engine.fs.PathBytes.display(g.pathBytes);
            try
            {
                if (ManifestScanner.reservedTop(path))
                {
                    throw PathGuard.refused(path, "it is reserved for the recipient's state");
                }
                deleteTree(dev.ferry.engine.fs.PathBytes.resolve(target, g.pathBytes));
            }
            catch (final IOException | RuntimeException ex)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "cannot remove '" + PathGuard.printable(path) +
                    "', which no longer exists on the donor: " + PeerText.escape(ex.getMessage()), ex);
            }
        }
    }

    /**
     * After a merged manifest: the applied state of the new snapshot in which every chunk whose leading blocks
     * belong to kept files counts as applied, so the donor sends only the rest.
     */
    static AppliedState mergedApplied(final ChunkPlan p, final TargetEntries entries)
    {
        final AppliedState a = new AppliedState(p.chunkCount());
        for (int c = 0; c < p.chunkCount(); c++)
        {
            int prefix = 0;
            boolean all = true;
            for (int sg = p.firstSegment(c); sg < p.firstSegment(c) + p.segmentCount(c); sg++)
            {
                if (entries.is(p.segmentFile(sg), TargetEntries.KEPT))
                {
                    if (all)
                    {
                        prefix = p.segmentFirstBlock(sg) + p.segmentBlocks(sg);
                    }
                }
                else
                {
                    all = false;
                }
            }
            if (all)
            {
                a.onApplied(c, p.chunkBlocks(c), true);
            }
            else if (prefix > 0)
            {
                a.onApplied(c, prefix, false);
            }
        }
        return a;
    }

    /**
     * @return kept files that lie in a chunk after a file that is not kept: the applied state cannot skip them (it
     *     counts leading blocks), so the recipient names them in {@code COM_HAVE} as held whole.
     */
    static int[] keptPastPrefix(final ChunkPlan p, final TargetEntries entries)
    {
        final org.agrona.collections.IntArrayList out = new org.agrona.collections.IntArrayList();
        for (int c = 0; c < p.chunkCount(); c++)
        {
            boolean gap = false;
            for (int sg = p.firstSegment(c); sg < p.firstSegment(c) + p.segmentCount(c); sg++)
            {
                if (!entries.is(p.segmentFile(sg), TargetEntries.KEPT))
                {
                    gap = true;
                }
                else if (gap && (out.isEmpty() || out.getInt(out.size() - 1) != p.segmentFile(sg)))
                {
                    out.addInt(p.segmentFile(sg));
                }
            }
        }
        return out.toIntArray();
    }

    /**
     * @return entries kept from an interrupted clone, and their bytes.
     */
    static long[] keptCounts(final TargetEntries entries)
    {
        long files = 0;
        long bytes = 0;
        if (entries != null)
        {
            final Manifest.Builder packed = entries.packed();
            for (int i = 0; i < entries.size(); i++)
            {
                if (entries.is(i, TargetEntries.KEPT))
                {
                    files++;
                    bytes += packed.entry(i).size;
                }
            }
        }
        return new long[] { files, bytes };
    }
}
