package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.ManifestScanner;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
        boolean seen;

        final byte[] pathBytes;

        OldEntry(final int type, final long size, final long mtimeNanos, final boolean complete, final byte[] pathBytes)
        {
            this.pathBytes = pathBytes;
            this.type = type;
            this.size = size;
            this.mtimeNanos = mtimeNanos;
            this.complete = complete;
        }
    }

    private final Path target;
    /** What the interrupted clone had, by path. */
    private final Map<String, OldEntry> old = new HashMap<>();

    /**
     * @param loaded the journal, or null when the interrupted clone had not recorded its manifest yet.
     */
    ResumeMerge(final Path target, final RecipientJournal.Loaded loaded)
    {
        this.target = target;
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
        for (final Manifest.Entry e : oldEntries)
        {
            old.put(e.path, new OldEntry(e.type, e.size, e.mtimeNanos, complete[e.index], e.pathBytes));
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
        final OldEntry o = old.get(e.path);
        final boolean exists = Files.exists(e.resolved, LinkOption.NOFOLLOW_LINKS);
        if (o != null)
        {
            o.seen = true;
        }
        if (!exists)
        {
            return;
        }
        final boolean isDir = Files.isDirectory(e.resolved, LinkOption.NOFOLLOW_LINKS);
        if (e.type == DescriptorFlyweight.FILE_DIRECTORY)
        {
            if (!isDir)
            {
                deleteTree(e.resolved);
            }
            return;
        }
        if (e.type == DescriptorFlyweight.FILE_REGULAR && o != null && o.type == e.type && o.complete &&
            o.size == e.size && o.mtimeNanos == e.mtimeNanos && Files.isRegularFile(e.resolved, LinkOption.NOFOLLOW_LINKS) &&
            Files.size(e.resolved) == e.size)
        {
            e.kept = true;
            return;
        }
        deleteTree(e.resolved);
    }

    /**
     * The manifest is complete: remove what the interrupted clone had and the donor no longer has, deepest first.
     */
    void removeVanished()
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
                if (g.pathBytes.length >= ManifestScanner.STATE_DIR.length() && path.startsWith(ManifestScanner.STATE_DIR) &&
                    (path.length() == ManifestScanner.STATE_DIR.length() || path.charAt(ManifestScanner.STATE_DIR.length()) == '/'))
                {
                    throw PathGuard.refused(path, "'" + ManifestScanner.STATE_DIR + "' is reserved");
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
     * Resume by manifest with checksums: compare one block of a file kept from the interrupted clone with the
     * donor's CRC32C; on any difference the file is no longer kept (and is deleted, so it is written afresh).
     */
    static void checkKeptBlock(final TargetEntry[] es, final int blockSize, final int index, final long position,
        final int length, final int crc)
    {
        if (length <= 0 || length > blockSize)
        {
            // the buffer below is sized by it: a donor's length never exceeds a block
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "a checksum of a block of " + length + " bytes; blocks " +
                "are 1 to " + blockSize + " bytes");
        }
        if (es == null || index < 0 || index >= es.length || es[index] == null || !es[index].kept)
        {
            return;
        }
        final TargetEntry e = es[index];
        try (FileChannel ch = FileChannel.open(e.resolved, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final ByteBuffer b = ByteBuffer.allocate(length);
            while (b.hasRemaining() && ch.read(b, position + b.position()) >= 0)
            {
                // fill
            }
            final CRC32C c = new CRC32C();
            b.flip();
            c.update(b);
            if (b.limit() == length && (int)c.getValue() == crc)
            {
                return;
            }
        }
        catch (final IOException ex)
        {
            // unreadable: not kept
        }
        e.kept = false;
        try
        {
            deleteTree(e.resolved);
        }
        catch (final IOException ex)
        {
            throw io("cannot replace '" + PathGuard.printable(e.path) + "'", ex);
        }
    }

    /**
     * After a merged manifest: the applied state of the new snapshot in which every chunk whose leading blocks
     * belong to kept files counts as applied, so the donor sends only the rest.
     */
    static AppliedState mergedApplied(final ChunkPlan p, final TargetEntry[] entries)
    {
        final AppliedState a = new AppliedState(p.chunkCount());
        for (int c = 0; c < p.chunkCount(); c++)
        {
            int prefix = 0;
            boolean all = true;
            for (int sg = p.firstSegment(c); sg < p.firstSegment(c) + p.segmentCount(c); sg++)
            {
                if (entries[p.segmentFile(sg)].kept)
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
     * @return entries kept from an interrupted clone, and their bytes.
     */
    static long[] keptCounts(final TargetEntry[] entries)
    {
        long files = 0;
        long bytes = 0;
        if (entries != null)
        {
            for (final TargetEntry e : entries)
            {
                if (e != null && e.kept)
                {
                    files++;
                    bytes += e.size;
                }
            }
        }
        return new long[] { files, bytes };
    }
}
