package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.PathIndex;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.PeerText;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.layout.ManifestScanner;

import static dev.ferry.engine.recipient.RecipientFiles.io;

/**
 * The metadata stage of the recipient: turns the donor's STATE and FILE descriptors into {@link TargetEntry}s.
 * Directories are created as they are announced, empty files too (other files at their first block, by the
 * {@link BlockWriter}). A path is accepted only if {@link PathGuard} accepts it and its parent was announced as a
 * directory, so nothing is ever written through a symlink or outside the target. Every descriptor is appended to the
 * resume journal as it is applied.
 * <p>
 * Master task's thread (the one that applies metadata). The entry table is published to the apply workers by the
 * volatile write of the stage when the file copy starts; from then on it does not change.
 */
final class ManifestReceiver
{
    /** Longest symlink target: PATH_MAX (4096) counts the terminating NUL, so a link holds at most 4095 bytes. */
    static final int MAX_LINK_TARGET_BYTES = 4095;

    private final Path target;
    private final CloneSettings settings;
    private final RecipientJournal journal;
    private TargetEntries entries;
    /** The manifest as it arrives, packed off the heap (the chunk plan is rebuilt from it), and its paths' index. */
    private Manifest.Builder layoutEntries;
    private PathIndex paths;
    /** The parent of the entry received last and its path's length (-1 before one). */
    private int lastParent = -1;
    private int lastParentLength;
    private Manifest layoutManifest;
    private ChunkPlan layoutPlan;
    private int received;
    private int announced;
    private volatile int stage = Stage.NONE;
    private int blockSize;
    private long snapshotId;
    private long chunkSize;
    private int layoutBlockSize;
    private int filesPerChunk;
    private long announcedChunks;
    private ChunkPlan.Counter chunks;
    private long fileSystemBytes = -1;
    private boolean journaling = true;
    /** Resume by manifest: what to do with what the interrupted clone left (null unless merging). */
    private ResumeMerge merge;
    /**
     * The donor streams the manifest (protocol 5, PROTOCOL.md 6.5): its counts come at the end, and the plan grows
     * with each FILE descriptor, so data for closed chunks may arrive while later entries still do.
     */
    private boolean streamed;
    private volatile boolean streaming;
    /** The hash of the path of the entry being applied (looked up, then indexed with it). */
    private int pathHash;
    /** A streamed manifest's chunks and entries as far as the heap was checked for them. */
    private long checkedChunks;
    private long checkedEntries;

    ManifestReceiver(final Path target, final CloneSettings settings, final RecipientJournal journal)
    {
        this.target = target;
        this.settings = settings;
        this.journal = journal;
        layout(settings.chunkSize(), settings.blockSize(), settings.filesPerChunk());
    }

    /**
     * The donor's chunk layout: from COM_RES_CONFIG (already checked by {@link DonorConfig}), from the journal of the
     * clone being resumed, or, in a local clone, the settings both sides share. Checked again when the manifest
     * starts, since a journal is only a file.
     */
    void layout(final long chunkSize, final int blockSize, final int filesPerChunk)
    {
        this.chunkSize = chunkSize;
        this.layoutBlockSize = blockSize;
        this.filesPerChunk = filesPerChunk;
    }

    void snapshot(final long snapshotId)
    {
        this.snapshotId = snapshotId;
    }

    long snapshotId()
    {
        return snapshotId;
    }

    /**
     * Whether applied descriptors are appended to the journal (off while a journal is being replayed).
     */
    void journaling(final boolean on)
    {
        journaling = on;
    }

    void mergeWith(final ResumeMerge merge)
    {
        this.merge = merge;
    }

    /**
     * The donor accepted to stream this clone's manifest (its real locator's protocol, when the client asked): set
     * before the metadata stage; a restart keeps it.
     */
    void streamed(final boolean on)
    {
        streamed = on;
    }

    boolean streamed()
    {
        return streamed;
    }

    /**
     * @return true while a streamed manifest arrives: data for the chunks closed so far may be applied.
     */
    boolean streaming()
    {
        return streaming;
    }

    /**
     * @return the plan of a streamed manifest as far as it arrived (master's thread), or null.
     */
    ChunkPlan streamPlan()
    {
        return streamed ? layoutPlan : null;
    }

    /**
     * A restart in the metadata stage: forget the manifest, the donor sends it again (directories that exist are
     * kept).
     */
    void reset()
    {
        entries = null;
        received = 0;
        layoutEntries = null;
        paths = null;
        lastParent = -1;
        layoutManifest = null;
        layoutPlan = null;
        streaming = false;
        checkedChunks = 0;
        checkedEntries = 0;
        stage = Stage.NONE;
    }

    /**
     * @return the chunk plan of the manifest received (the donor's own layout, rebuilt), or null before it.
     */
    synchronized ChunkPlan plan()
    {
        if (layoutEntries == null || layoutEntries.size() != received || received != announced)
        {
            return null;
        }
        if (layoutPlan == null)
        {
            // built once: the manifest is complete and does not change
            layoutManifest = layoutEntries.build(0, List.of());
            layoutPlan = ChunkPlan.build(layoutManifest, chunkSize, blockSize, filesPerChunk);
        }
        return layoutPlan;
    }

    /**
     * @return the entries (indexed as the donor's manifest), or null before the manifest. Complete once the stage is
     * {@link Stage#FILE_COPY}; read the stage first.
     */
    TargetEntries entries()
    {
        return entries;
    }

    /**
     * @return the number of manifest entries announced, or -1 before the manifest.
     */
    int entryCount()
    {
        return entries == null ? -1 : announced;
    }

    int stage()
    {
        return stage;
    }

    /**
     * FILE SYNC and DONE are set by the facade as the end runs.
     */
    void stage(final int s)
    {
        stage = s;
    }

    int blockSize()
    {
        return blockSize;
    }

    void applyState(final DescriptorFlyweight d)
    {
        final int newStage = d.stage();
        if (newStage == Stage.METADATA)
        {
            if (entries != null)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced the manifest twice");
            }
            if (!streamed && d.fileCount() > FileTreeRecipient.MAX_ENTRIES)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced " + d.fileCount() +
                    " entries, more than the recipient's limit of " + FileTreeRecipient.MAX_ENTRIES);
            }
            if (!streamed && d.chunkCount() > LocatorCodec.MAX_CHUNKS)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced " + d.chunkCount() +
                    " chunks, more than the protocol's limit of " + LocatorCodec.MAX_CHUNKS);
            }
            if (d.blockSize() > settings.maxFrameLength())
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor block size " + d.blockSize() +
                    " exceeds this recipient's frame cap " + settings.maxFrameLength());
            }
            if (d.blockSize() != layoutBlockSize)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor's manifest announces block size " +
                    d.blockSize() + " but its configuration said " + layoutBlockSize);
            }
            checkLayout();
            dev.ferry.engine.Trace.mark("manifest announced: " + (streamed ? "streamed" : d.fileCount() + " entries"));
            if (streamed)
            {
                // the counts come at the end: the caps bound what arrives, and the heap is checked as it grows
                announced = (int)FileTreeRecipient.MAX_ENTRIES;
                announcedChunks = LocatorCodec.MAX_CHUNKS;
            }
            else
            {
                MemoryBudget.checkChunks(d.chunkCount());
                MemoryBudget.checkEntries(d.fileCount());
                MemoryBudget.checkTogether(d.fileCount(), d.chunkCount());
                // grown as entries arrive: a 48-byte STATE frame must not make the recipient reserve memory for 10^8
                // entries
                announced = (int)d.fileCount();
                announcedChunks = d.chunkCount();
            }
            chunks = new ChunkPlan.Counter(chunkSize, filesPerChunk);
            entries = new TargetEntries(target);
            layoutEntries = entries.packed();
            paths = new PathIndex(layoutEntries);
            layoutManifest = null;
            layoutPlan = null;
            if (streamed)
            {
                layoutManifest = layoutEntries.live();
                layoutPlan = ChunkPlan.growing(layoutManifest, chunkSize, d.blockSize(), filesPerChunk);
            }
            blockSize = d.blockSize();
            stage = Stage.METADATA;
            streaming = streamed;
            if (journaling)
            {
                try
                {
                    journal.begin(snapshotId, chunkSize, blockSize, filesPerChunk, streamed ? 0 : d.fileCount() + 2);
                    journal.appendDescriptor(d.buffer(), d.offset(), d.length());
                }
                catch (final IOException ex)
                {
                    throw io("cannot write the resume journal", ex);
                }
            }
        }
        else if (newStage == Stage.FILE_COPY)
        {
            if (streamed && entries != null && stage == Stage.METADATA)
            {
                if (d.fileCount() != received)
                {
                    throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor ended its streamed manifest with " +
                        d.fileCount() + " entries but sent " + received);
                }
                announced = received;
                layoutPlan.finish();
                if (d.chunkCount() != layoutPlan.chunkCount())
                {
                    // before the journal is completed with these counts
                    throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor ended its streamed manifest with " +
                        d.chunkCount() + " chunks but its entries lay out " + layoutPlan.chunkCount());
                }
                layoutManifest.finish(layoutEntries.build(0, List.of()));
            }
            if (entries == null || received != announced)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor started the file copy after " + received +
                    " of " + announced + " manifest entries");
            }
            if (merge != null)
            {
                merge.complete(entries, received);
            }
            if (journaling)
            {
                try
                {
                    journal.appendDescriptor(d.buffer(), d.offset(), d.length());
                    if (streamed)
                    {
                        journal.completeStreamedManifest(d.fileCount(), d.chunkCount(), d.estimatedBytes());
                    }
                    else
                    {
                        journal.completeManifest();
                    }
                }
                catch (final IOException ex)
                {
                    throw io("cannot write the resume journal", ex);
                }
            }
            stage = Stage.FILE_COPY;
            streaming = false; // after the stage: an apply worker between the two sees one or the other
        }
        else
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "unexpected stage " + Stage.name(newStage));
        }
    }

    /**
     * The layout the chunk plan is rebuilt with must be one the donor could have used: the bounds of
     * {@link CloneSettings#conclude()}.
     */
    private void checkLayout()
    {
        if (layoutBlockSize < CloneSettings.BLOCK_SIZE_MIN || layoutBlockSize > CloneSettings.BLOCK_SIZE_MAX ||
            Integer.bitCount(layoutBlockSize) != 1 || chunkSize < layoutBlockSize || chunkSize % layoutBlockSize != 0 ||
            chunkSize / layoutBlockSize > CloneSettings.BLOCKS_PER_CHUNK_MAX || filesPerChunk < 1 ||
            filesPerChunk > CloneSettings.FILES_PER_CHUNK_MAX)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "chunk layout " + chunkSize + "/" + layoutBlockSize +
                "/" + filesPerChunk + " (chunk size/block size/files per chunk) is outside the bounds of " +
                "docs/PROTOCOL.md: blocks a power of two from 4 KiB to 64 MiB, chunks a multiple of the block of at " +
                "most 2^31-1 blocks, 1 to " + CloneSettings.FILES_PER_CHUNK_MAX + " files per chunk");
        }
    }

    /**
     * A symlink target is checked when it is announced, not when FILE SYNC creates the link: non-empty, no NUL, and
     * short enough for the kernel (PATH_MAX, 4096 bytes, counts the terminating NUL).
     */
    private static void checkLinkTarget(final String path, final byte[] linkTarget)
    {
        final String why;
        if (linkTarget.length == 0)
        {
            why = "it is empty";
        }
        else if (linkTarget.length > MAX_LINK_TARGET_BYTES)
        {
            why = "it is " + linkTarget.length + " bytes long, more than the " + MAX_LINK_TARGET_BYTES + " bytes a " +
                "symlink can hold (PATH_MAX 4096 with its terminating NUL)";
        }
        else if (indexOfNul(linkTarget) >= 0)
        {
            why = "it contains a NUL byte at offset " + indexOfNul(linkTarget);
        }
        else
        {
            return;
        }
        throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor sent an invalid symlink target for '" +
            PathGuard.printable(path) + "': " + why + " ('" + PeerText.escape(linkTarget, 100) + "')");
    }

    /**
     * A path other than the root's: relative, no empty, "." or ".." segment, no NUL, within PATH_MAX and NAME_MAX,
     * and not under the recipient's state directory.
     *
     * @return the length of its parent's path (-1 for the target itself).
     */
    private static int checkPath(final byte[] raw, final String path)
    {
        try
        {
            PathBytes.checkRelative(raw, 0, raw.length);
        }
        catch (final IllegalArgumentException ex)
        {
            throw PathGuard.refused(path, ex.getMessage());
        }
        int firstSlash = -1;
        int lastSlash = -1;
        for (int i = 0; i < raw.length; i++)
        {
            if (raw[i] == '/')
            {
                lastSlash = i;
                if (firstSlash < 0)
                {
                    firstSlash = i;
                }
            }
        }
        final int first = firstSlash < 0 ? raw.length : firstSlash;
        if (ManifestScanner.reservedTopName(raw, first))
        {
            throw PathGuard.refused(path, "'" + new String(raw, 0, first, StandardCharsets.US_ASCII) +
                "' is reserved for the recipient's clone state");
        }
        return lastSlash;
    }

    /**
     * xattrs within the documented caps ({@link DescriptorFlyweight#MAX_XATTRS},
     * {@link DescriptorFlyweight#MAX_XATTR_VALUE_BYTES}, {@link DescriptorFlyweight#MAX_XATTR_SECTION_BYTES}); the
     * flyweight has already checked that the section's structure lies inside the descriptor.
     */
    private static void checkXattrs(final String path, final DescriptorFlyweight d)
    {
        if (d.xattrCount() > DescriptorFlyweight.MAX_XATTRS)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "'" + PathGuard.printable(path) + "': xattr count " +
                d.xattrCount() + " exceeds the cap of " + DescriptorFlyweight.MAX_XATTRS);
        }
        if (d.xattrLength() > DescriptorFlyweight.MAX_XATTR_SECTION_BYTES)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "'" + PathGuard.printable(path) + "': xattr section " +
                "of " + d.xattrLength() + " bytes exceeds the cap of " + DescriptorFlyweight.MAX_XATTR_SECTION_BYTES);
        }
        final dev.ferry.core.protocol.XattrReader x = new dev.ferry.core.protocol.XattrReader(d.xattrBytes(), d.xattrCount());
        while (x.next())
        {
            if (x.valueLength() > DescriptorFlyweight.MAX_XATTR_VALUE_BYTES)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "'" + PathGuard.printable(path) + "': xattr value " +
                    "of " + x.valueLength() + " bytes for '" + PeerText.escape(x.name()) + "' exceeds the cap of " +
                    DescriptorFlyweight.MAX_XATTR_VALUE_BYTES);
            }
        }
    }

    /**
     * The entry whose path is the first {@code length} bytes of {@code raw}, or -1. In manifest order an entry's parent
     * is almost always the previous entry or the previous entry's parent: those are compared first, without a lookup.
     */
    private int parentOf(final byte[] raw, final int length)
    {
        if (received > 0)
        {
            if (layoutEntries.pathEquals(received - 1, raw, 0, length))
            {
                return received - 1;
            }
            if (lastParent >= 0 && lastParentLength == length && layoutEntries.pathEquals(lastParent, raw, 0, length))
            {
                return lastParent;
            }
        }
        return paths.find(raw, 0, length);
    }

    private void checkIndex(final int index)
    {
        if (index != received)
        {
            // in manifest order: the entry table grows with what arrived, never with an index the donor picked
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "file index " + index + " arrived where entry " +
                received + " was due (entries arrive in manifest order, each once)");
        }
    }

    private static int indexOfNul(final byte[] b)
    {
        for (int i = 0; i < b.length; i++)
        {
            if (b[i] == 0)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * A regular file must fit the recipient's file system and, with the files before it, the chunks the donor
     * announced: one FILE descriptor cannot make the chunk plan, or the tables built from it, grow past that.
     */
    private void checkSize(final String path, final long size)
    {
        final long fs = fileSystemBytes();
        if (size > fs)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced '" + PathGuard.printable(path) +
                "' with a size of " + size + " bytes, more than the recipient's file system holds (" + fs + " bytes)");
        }
        final long laidOut = chunks.add(true, size);
        if (streamed && laidOut > checkedChunks)
        {
            // a streamed manifest has no count up front: the chunk tables are checked before they grow past what the
            // heap holds (each time they double, and before one file lays out more)
            MemoryBudget.checkChunks(laidOut);
            MemoryBudget.checkTogether(received + 1, laidOut);
            checkedChunks = Math.max(2 * checkedChunks, laidOut);
        }
        if (laidOut > announcedChunks)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced '" + PathGuard.printable(path) +
                "' with a size of " + size + " bytes, which makes its manifest lay out " + laidOut + " chunks of " +
                chunkSize + " bytes, more than the " + announcedChunks + " chunks it announced");
        }
    }

    /**
     * @return the size of the target's file system, or Long.MAX_VALUE if it cannot be known.
     */
    private long fileSystemBytes()
    {
        if (fileSystemBytes < 0)
        {
            long total;
            try
            {
                total = Files.getFileStore(target).getTotalSpace();
            }
            catch (final IOException ex)
            {
                total = 0;
            }
            fileSystemBytes = total > 0 ? total : Long.MAX_VALUE;
        }
        return fileSystemBytes;
    }

    void applyFile(final DescriptorFlyweight d)
    {
        if (entries == null || stage != Stage.METADATA)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "file descriptor outside the metadata stage");
        }
        final int index = d.fileIndex();
        if (index >= announced)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "file index " + index + " is outside the " + announced +
                " entries the donor announced");
        }
        if (streamed && received >= checkedEntries)
        {
            // no count up front: before the entries pass what was checked, check how far they may go next
            checkedEntries = MemoryBudget.nextStreamedCheck(received);
            MemoryBudget.checkTogether(checkedEntries, chunks.chunks());
        }
        final byte[] raw = d.pathBytes();
        final String path = PathBytes.display(raw);
        final int type = d.fileType();
        final boolean isRoot = raw.length == 0 && index == 0 && type == DescriptorFlyweight.FILE_DIRECTORY;
        final Path resolved;
        if (isRoot)
        {
            checkIndex(index);
            lastParent = -1;
            resolved = target;
        }
        else
        {
            final int parentLength = checkPath(raw, path);
            final int parent = parentLength < 0 ? 0 : parentOf(raw, parentLength);
            if (parentLength >= 0 && (parent < 0 || layoutEntries.type(parent) != DescriptorFlyweight.FILE_DIRECTORY))
            {
                throw PathGuard.refused(path, "its parent '" + PathGuard.printable(PathBytes.display(raw, 0,
                    parentLength)) + "' was not announced as a directory (it may be a symlink)");
            }
            lastParent = parentLength < 0 ? -1 : parent;
            lastParentLength = parentLength;
            checkIndex(index);
            pathHash = PathIndex.hash(raw, 0, raw.length);
            if (paths.find(raw, 0, raw.length, pathHash) >= 0)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced '" +
                    PathGuard.printable(path) + "' twice");
            }
            try
            {
                resolved = PathBytes.resolve(target, raw);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor sent a name this system cannot use: '" +
                    PathGuard.printable(path) + "' (" + PeerText.escape(ex.getMessage()) + ")");
            }
            final Path normalized = resolved.normalize();
            if (!normalized.startsWith(target) || normalized.equals(target) || !normalized.equals(resolved))
            {
                throw PathGuard.refused(path, "it resolves outside the target");
            }
        }
        if (type == DescriptorFlyweight.FILE_SYMLINK)
        {
            checkLinkTarget(path, d.linkTargetBytes());
        }
        else if (type == DescriptorFlyweight.FILE_REGULAR)
        {
            checkSize(path, d.fileSize());
        }
        else if (type == DescriptorFlyweight.FILE_HARDLINK)
        {
            final int k = d.linkIndex();
            if (k < 0 || k >= received || layoutEntries.type(k) != DescriptorFlyweight.FILE_REGULAR || d.fileSize() != 0 ||
                d.chunkSpan() != 0)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "hard link '" + PathGuard.printable(path) +
                    "' names entry " + k + ", which is not an earlier regular file of this clone");
            }
        }
        if (type != DescriptorFlyweight.FILE_REGULAR && d.fileSize() != 0)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "'" + PathGuard.printable(path) + "' of type " + type +
                " announced a size of " + d.fileSize() + " bytes; only regular files have data");
        }
        checkXattrs(path, d);
        final byte[] linkTarget = type == DescriptorFlyweight.FILE_SYMLINK ? d.linkTargetBytes() : null;
        if (layoutEntries.size() != received)
        {
            throw new IllegalStateException("an entry was left half-applied: " + layoutEntries.size() + " packed, " +
                received + " received");
        }
        // packed first (the table and the path index grow together); a failure below ends the clone
        final TargetEntry e = entries.add(raw, type, d.fileSize(), d.mode(), d.mtimeNanos(), linkTarget, d.uid(),
            d.gid(), d.rdev(), d.fileFlags(), d.linkIndex(), d.xattrCount(), d.xattrBytes());
        paths.add(index, isRoot ? PathIndex.hash(raw, 0, 0) : pathHash);
        try
        {
            if (merge != null)
            {
                merge.merge(e);
            }
            // a directory the merge found here (an update's scan, a resume's lstat) is not made again: in an update
            // of a tree that had them all, each one cost a failed mkdir, an exception and another lstat
            if (type == DescriptorFlyweight.FILE_DIRECTORY && !isRoot && !e.existed())
            {
                try
                {
                    Files.createDirectory(resolved);
                }
                catch (final FileAlreadyExistsException ex)
                {
                    if (!Files.isDirectory(resolved, LinkOption.NOFOLLOW_LINKS))
                    {
                        throw PathGuard.refused(path, "it exists and is not a directory");
                    }
                }
            }
            else if (type == DescriptorFlyweight.FILE_REGULAR && e.size == 0)
            {
                FileChannel.open(resolved, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS).close();
            }
        }
        catch (final IOException ex)
        {
            throw io("cannot create '" + PathGuard.printable(path) + "'", ex);
        }
        received++;
        if (streamed)
        {
            layoutPlan.append(index);
        }
        if (journaling)
        {
            try
            {
                journal.appendDescriptor(d.buffer(), d.offset(), d.length());
            }
            catch (final IOException ex)
            {
                throw io("cannot write the resume journal", ex);
            }
        }
    }
}
