package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.ManifestScanner;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.ApplyData;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.RecipientStorage;
import dev.ferry.core.spi.Stage;

/**
 * The recipient side of the file-tree storage engine: builds the tree under a target directory.
 * <ul>
 *   <li>Metadata: directories are created as they are announced; empty files too; other files at their first
 *   block. A path is accepted only if {@link PathGuard} accepts it and its parent was announced as a directory, so
 *   nothing is ever written through a symlink or outside the target.</li>
 *   <li>Data: blocks are checked against their CRC32C and written at their offsets with positional writes; each
 *   task keeps its own open files.</li>
 *   <li>End (FILE SYNC): symlinks are created, modes and times restored (directories deepest first), files and
 *   directories forced to disk, and only then the {@code .ferry/} marker removed.</li>
 * </ul>
 * See {@link RecipientStorage} for the thread model.
 */
public final class FileTreeRecipient implements RecipientStorage
{
    /** Most entries a manifest may announce, so a hostile donor cannot make the recipient reserve unbounded memory. */
    public static final long MAX_ENTRIES = 100_000_000L;

    private final Path target;
    private final Path stateDir;
    private final CloneSettings settings;
    private final AtomicReferenceArray<Int2ObjectHashMap<FileChannel>> taskFiles =
        new AtomicReferenceArray<>(LocatorCodec.MAX_TASKS);
    private final DescriptorFlyweight desc = new DescriptorFlyweight();
    private final Set<String> directories = new HashSet<>();
    private final Set<String> paths = new HashSet<>();

    private Entry[] entries;
    private int received;
    private int announced;
    private volatile int stage = Stage.NONE;
    private int blockSize;
    private long snapshotId;
    private int defaultFileMode = -1;
    private int defaultDirMode = -1;
    private final RecipientJournal journal;
    private boolean journaling = true;
    private long chunkSize = CloneSettings.CHUNK_SIZE_DEFAULT;
    private int filesPerChunk = CloneSettings.FILES_PER_CHUNK_DEFAULT;
    private java.util.List<Manifest.Entry> manifestEntries;
    /** Resume by manifest: what the interrupted clone had, by path (null unless merging). */
    private java.util.Map<String, OldEntry> old;

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

        OldEntry(final int type, final long size, final long mtimeNanos, final boolean complete)
        {
            this.type = type;
            this.size = size;
            this.mtimeNanos = mtimeNanos;
            this.complete = complete;
        }
    }

    /**
     * What the recipient knows of one announced entry.
     */
    static final class Entry
    {
        final String path;
        final Path resolved;
        final int type;
        final long size;
        final int mode;
        final long mtimeNanos;
        final String linkTarget;
        boolean kept;

        Entry(final String path, final Path resolved, final int type, final long size, final int mode,
            final long mtimeNanos, final String linkTarget)
        {
            this.path = path;
            this.resolved = resolved;
            this.type = type;
            this.size = size;
            this.mode = mode;
            this.mtimeNanos = mtimeNanos;
            this.linkTarget = linkTarget;
        }
    }

    public FileTreeRecipient(final Path target, final CloneSettings settings)
    {
        this.target = target.toAbsolutePath().normalize();
        this.stateDir = this.target.resolve(ManifestScanner.STATE_DIR);
        this.settings = settings;
        this.journal = new RecipientJournal(stateDir, settings.sync());
    }

    /**
     * The donor's chunk layout (from COM_RES_CONFIG), recorded in the journal so a resume can rebuild the plan.
     */
    public void layout(final long chunkSize, final int filesPerChunk)
    {
        this.chunkSize = chunkSize;
        this.filesPerChunk = filesPerChunk;
    }

    /**
     * @return the chunk plan of the manifest received (the donor's own layout, rebuilt), or null before it.
     */
    public ChunkPlan plan()
    {
        if (manifestEntries == null || manifestEntries.size() != received)
        {
            return null;
        }
        return ChunkPlan.build(new Manifest(manifestEntries, 0), chunkSize, blockSize, filesPerChunk);
    }

    /**
     * Continue an interrupted clone of the same snapshot: rebuild the manifest from the journal (nothing is
     * created that exists; nothing is journaled again).
     */
    public void resumeSameSnapshot(final RecipientJournal.Loaded loaded)
    {
        snapshotId = loaded.snapshotId;
        chunkSize = loaded.chunkSize;
        filesPerChunk = loaded.filesPerChunk;
        journaling = false;
        try
        {
            probeModesIfNeeded();
            final org.agrona.concurrent.UnsafeBuffer b = new org.agrona.concurrent.UnsafeBuffer(new byte[0]);
            int i = 0;
            for (final byte[] d : loaded.descriptors)
            {
                b.wrap(d);
                apply(null, 0, b, 0, d.length, null);
                if (i++ == 0 && stage != Stage.METADATA)
                {
                    throw new FerryException(ErrorCode.IO_ERROR, "the resume journal does not start with a manifest");
                }
            }
        }
        catch (final IOException ex)
        {
            throw io("cannot resume into " + target, ex);
        }
        finally
        {
            journaling = true;
        }
        journal.resumed(loaded);
    }

    /**
     * Resume against a new snapshot: remember what the interrupted clone had, so {@link #applyFile} keeps unchanged
     * complete files, and files that vanished on the donor are removed when the manifest is complete.
     *
     * @param loaded the journal, or null when the interrupted clone had not recorded its manifest yet.
     */
    public void mergeWith(final RecipientJournal.Loaded loaded)
    {
        old = new java.util.HashMap<>();
        if (loaded == null)
        {
            return;
        }
        final List<Manifest.Entry> oldEntries = new java.util.ArrayList<>();
        final DescriptorFlyweight d = new DescriptorFlyweight();
        final org.agrona.concurrent.UnsafeBuffer b = new org.agrona.concurrent.UnsafeBuffer(new byte[0]);
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
                oldEntries.add(new Manifest.Entry(oldEntries.size(), d.path(), d.fileType(), d.fileSize(), d.mode(),
                    d.mtimeNanos(), d.fileType() == DescriptorFlyweight.FILE_SYMLINK ? d.linkTarget() : null));
            }
            else if (d.type() == DescriptorFlyweight.TYPE_STATE)
            {
                blockSizeOld = d.blockSize();
            }
        }
        final ChunkPlan oldPlan = ChunkPlan.build(new Manifest(oldEntries, 0), loaded.chunkSize, blockSizeOld,
            loaded.filesPerChunk);
        final boolean[] complete = new boolean[oldEntries.size()];
        java.util.Arrays.fill(complete, true);
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
            old.put(e.path, new OldEntry(e.type, e.size, e.mtimeNanos, complete[e.index]));
        }
    }

    /**
     * Resume by manifest with checksums: compare one block of a file kept from the interrupted clone with the
     * donor's CRC32C; on any difference the file is no longer kept (and is deleted, so it is written afresh).
     */
    public void checkKeptBlock(final int index, final long position, final int length, final int crc)
    {
        final Entry[] es = entries;
        if (es == null || index < 0 || index >= es.length || es[index] == null || !es[index].kept)
        {
            return;
        }
        final Entry e = es[index];
        try (FileChannel ch = FileChannel.open(e.resolved, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(length);
            while (b.hasRemaining() && ch.read(b, position + b.position()) >= 0)
            {
                // fill
            }
            final java.util.zip.CRC32C c = new java.util.zip.CRC32C();
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
    public AppliedState mergedApplied()
    {
        final ChunkPlan p = plan();
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
    public long[] keptCounts()
    {
        long files = 0;
        long bytes = 0;
        if (entries != null)
        {
            for (final Entry e : entries)
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

    /**
     * Record the applied state durably (see {@link RecipientJournal#checkpoint}). Clone driver thread.
     */
    public void checkpoint(final AppliedState state)
    {
        try
        {
            journal.checkpoint(state, this);
        }
        catch (final IOException ex)
        {
            throw io("cannot write the resume journal", ex);
        }
    }

    /**
     * Force one file's bytes to disk (journal checkpoints).
     */
    void force(final int index) throws IOException
    {
        final Entry[] es = entries;
        if (es == null || index >= es.length || es[index] == null)
        {
            return;
        }
        try (FileChannel ch = FileChannel.open(es[index].resolved, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            ch.force(true);
        }
        catch (final java.nio.file.NoSuchFileException ignore)
        {
            // not written yet
        }
    }

    public Path target()
    {
        return target;
    }

    /**
     * @return true if {@code dir} holds the marker of an incomplete clone.
     */
    public static boolean isIncomplete(final Path dir)
    {
        return Files.isDirectory(dir.resolve(ManifestScanner.STATE_DIR), LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public Locator applyBegin(final CloneMode mode, final Locator locator)
    {
        switch (mode)
        {
            case VERSION:
                return Locator.version(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX);
            case START:
                prepareTarget(locator);
                return locator;
            case ATTACH:
                return locator;
            case RESTART:
                if (locator.stage() < Stage.FILE_COPY)
                {
                    // the manifest was cut short: forget it, the donor sends it again (directories that exist are kept)
                    closeFiles();
                    entries = null;
                    received = 0;
                    directories.clear();
                    paths.clear();
                    stage = Stage.NONE;
                }
                return locator;
            default:
                throw new FerryException(ErrorCode.INTERNAL, "unknown mode " + mode);
        }
    }

    private void probeModesIfNeeded() throws IOException
    {
        if (defaultFileMode < 0)
        {
            Files.createDirectories(stateDir);
            probeDefaultModes();
        }
    }

    private void prepareTarget(final Locator locator)
    {
        if (old != null)
        {
            try
            {
                Files.createDirectories(stateDir);
                probeModesIfNeeded();
                snapshotId = locator.snapshotId();
                writeStatus();
            }
            catch (final IOException ex)
            {
                throw io("cannot prepare target " + target, ex);
            }
            return;
        }
        try
        {
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS))
            {
                if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS))
                {
                    throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " exists and is not a directory");
                }
                try (DirectoryStream<Path> s = Files.newDirectoryStream(target))
                {
                    if (s.iterator().hasNext())
                    {
                        throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " is not empty" +
                            (isIncomplete(target) ? " (it holds an interrupted clone)" : ""));
                    }
                }
            }
            else
            {
                Files.createDirectories(target);
            }
            Files.createDirectory(stateDir);
            probeDefaultModes();
            snapshotId = locator.snapshotId();
            writeStatus();
        }
        catch (final IOException ex)
        {
            throw io("cannot prepare target " + target, ex);
        }
    }

    @Override
    public void apply(
        final Locator locator, final int task, final DirectBuffer buffer, final int offset, final int length,
        final ApplyData data)
    {
        final DescriptorFlyweight d = data == null ? desc : new DescriptorFlyweight();
        d.wrap(buffer, offset, length);
        if (d.validate() != ErrorCode.OK)
        {
            throw new FerryException(ErrorCode.MALFORMED_FRAME, "malformed descriptor from donor");
        }
        switch (d.type())
        {
            case DescriptorFlyweight.TYPE_STATE:
                applyState(d);
                break;
            case DescriptorFlyweight.TYPE_FILE:
                applyFile(d);
                break;
            case DescriptorFlyweight.TYPE_DATA:
                applyData(task, d, data);
                break;
            default:
                throw new FerryException(ErrorCode.MALFORMED_FRAME, "unknown descriptor type " + d.type());
        }
    }

    /**
     * Apply a DATA descriptor from the hot path: the caller has already validated the descriptor flyweight.
     */
    public void applyData(final int task, final DescriptorFlyweight d, final ApplyData data)
    {
        final int currentStage = stage;
        final Entry[] es = entries;
        if (es == null || currentStage != Stage.FILE_COPY)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "data before the manifest was complete");
        }
        final int index = d.fileIndex();
        final Entry e = index < es.length ? es[index] : null;
        if (e == null || e.type != DescriptorFlyweight.FILE_REGULAR)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "data for file " + index + ", which is not an announced " +
                "regular file");
        }
        final long position = d.dataPosition();
        final int len = d.dataLength();
        if (len <= 0 || len > blockSize || position > e.size - len)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block of " + len + " bytes at offset " + position +
                " does not fit '" + PathGuard.printable(e.path) + "' of " + e.size + " bytes");
        }
        if (data == null || data.length() != len)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block for '" + PathGuard.printable(e.path) +
                "' announced " + len + " bytes but carried " + (data == null ? 0 : data.length()));
        }
        if (d.hasCrc())
        {
            final int crc = data.crc32c();
            if (crc != d.dataCrc())
            {
                throw new FerryException(ErrorCode.CHECKSUM_MISMATCH, "block " + d.dataBlock() + " of chunk " +
                    d.dataChunk() + " ('" + PathGuard.printable(e.path) + "' at offset " + position + ") has CRC32C " +
                    Integer.toHexString(crc) + ", donor said " + Integer.toHexString(d.dataCrc()));
            }
        }
        Int2ObjectHashMap<FileChannel> files = taskFiles.get(task);
        if (files == null)
        {
            files = new Int2ObjectHashMap<>();
            taskFiles.set(task, files);
        }
        FileChannel ch = files.get(index);
        try
        {
            if (ch == null)
            {
                ch = FileChannel.open(e.resolved, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
                files.put(index, ch);
            }
            data.writeTo(ch, position);
            journal.markDirty(index);
            if (position + len == e.size || d.isLastInChunk())
            {
                files.remove(index);
                ch.close();
            }
        }
        catch (final IOException ex)
        {
            throw io("cannot write '" + PathGuard.printable(e.path) + "' at offset " + position, ex);
        }
    }

    private void writeStatus() throws IOException
    {
        Files.write(stateDir.resolve("status"), ("incomplete clone of snapshot " + Long.toHexString(snapshotId) +
            "\nthis directory is not a finished copy while .ferry/ exists; continue it with ferry clone --resume\n")
            .getBytes(StandardCharsets.UTF_8));
    }

    private void applyState(final DescriptorFlyweight d)
    {
        final int newStage = d.stage();
        if (newStage == Stage.METADATA)
        {
            if (entries != null)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced the manifest twice");
            }
            if (d.fileCount() > MAX_ENTRIES)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced " + d.fileCount() +
                    " entries, more than the recipient's limit of " + MAX_ENTRIES);
            }
            if (d.chunkCount() > LocatorCodec.MAX_CHUNKS)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced " + d.chunkCount() +
                    " chunks, more than the protocol's limit of " + LocatorCodec.MAX_CHUNKS);
            }
            if (d.blockSize() > settings.maxFrameLength())
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor block size " + d.blockSize() +
                    " exceeds this recipient's frame cap " + settings.maxFrameLength());
            }
            // grown as entries arrive: a 48-byte STATE frame must not make the recipient reserve memory for 10^8 entries
            announced = (int)d.fileCount();
            entries = new Entry[Math.min(announced, 1024)];
            manifestEntries = new java.util.ArrayList<>((int)Math.min(d.fileCount(), 1024));
            blockSize = d.blockSize();
            stage = Stage.METADATA;
            if (journaling)
            {
                try
                {
                    journal.begin(snapshotId, chunkSize, blockSize, filesPerChunk, d.fileCount() + 2);
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
            if (entries == null || received != announced)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor started the file copy after " + received +
                    " of " + announced + " manifest entries");
            }
            if (old != null)
            {
                removeVanished();
            }
            if (journaling)
            {
                try
                {
                    journal.appendDescriptor(d.buffer(), d.offset(), d.length());
                    journal.completeManifest();
                }
                catch (final IOException ex)
                {
                    throw io("cannot write the resume journal", ex);
                }
            }
            stage = Stage.FILE_COPY;
        }
        else
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "unexpected stage " + Stage.name(newStage));
        }
    }

    private void applyFile(final DescriptorFlyweight d)
    {
        if (entries == null || stage != Stage.METADATA)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "file descriptor outside the metadata stage");
        }
        final int index = d.fileIndex();
        if (index >= announced || (index < entries.length && entries[index] != null))
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "file index " + index + " is out of range or repeated");
        }
        final String path = d.path();
        final String parent = PathGuard.check(path);
        if (!parent.isEmpty() && !directories.contains(parent))
        {
            throw PathGuard.refused(path, "its parent '" + PathGuard.printable(parent) +
                "' was not announced as a directory (it may be a symlink)");
        }
        if (!paths.add(path))
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced '" + PathGuard.printable(path) +
                "' twice");
        }
        final Path resolved = target.resolve(path);
        final Path normalized = resolved.normalize();
        if (!normalized.startsWith(target) || normalized.equals(target) || !normalized.equals(resolved))
        {
            throw PathGuard.refused(path, "it resolves outside the target");
        }
        final int type = d.fileType();
        final Entry e = new Entry(path, resolved, type, d.fileSize(), d.mode(), d.mtimeNanos(),
            type == DescriptorFlyweight.FILE_SYMLINK ? d.linkTarget() : null);
        try
        {
            if (old != null)
            {
                merge(e);
            }
            if (type == DescriptorFlyweight.FILE_DIRECTORY)
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
                directories.add(path);
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
        if (index >= entries.length)
        {
            entries = java.util.Arrays.copyOf(entries, (int)Math.min(announced, Math.max(index + 1L, 2L * entries.length)));
        }
        entries[index] = e;
        manifestEntries.add(new Manifest.Entry(index, path, type, e.size, e.mode, e.mtimeNanos, e.linkTarget));
        received++;
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

    /**
     * Resume by manifest: decide what to do with whatever the interrupted clone left at this entry's path.
     */
    private void merge(final Entry e) throws IOException
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

    private void removeVanished()
    {
        final List<String> gone = new java.util.ArrayList<>();
        for (final java.util.Map.Entry<String, OldEntry> o : old.entrySet())
        {
            if (!o.getValue().seen)
            {
                gone.add(o.getKey());
            }
        }
        gone.sort((a, b) -> b.length() - a.length());
        for (final String path : gone)
        {
            try
            {
                PathGuard.check(path);
                deleteTree(target.resolve(path));
            }
            catch (final IOException | FerryException ex)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "cannot remove '" + PathGuard.printable(path) +
                    "', which no longer exists on the donor: " + ex.getMessage(), ex);
            }
        }
    }

    /**
     * Delete a file, symlink or directory tree, never following symlinks.
     */
    private static void deleteTree(final Path p) throws IOException
    {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
        {
            p.toFile().setWritable(true);
            p.toFile().setExecutable(true);
            try (DirectoryStream<Path> s = Files.newDirectoryStream(p))
            {
                for (final Path c : s)
                {
                    deleteTree(c);
                }
            }
        }
        Files.delete(p);
    }

    @Override
    public void applyEnd(final Locator locator, final int task, final int error)
    {
        closeFiles();
        if (error != ErrorCode.OK || entries == null)
        {
            return;
        }
        if (stage != Stage.FILE_COPY)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the clone ended before the file copy stage");
        }
        stage = Stage.FILE_SYNC;
        final boolean sync = settings.sync();
        Entry current = null;
        try
        {
            for (final Entry e : entries)
            {
                current = e;
                if (e.type == DescriptorFlyweight.FILE_SYMLINK)
                {
                    if (Files.isSymbolicLink(e.resolved))
                    {
                        Files.delete(e.resolved); // left by an interrupted FILE SYNC
                    }
                    Files.createSymbolicLink(e.resolved, Paths.get(e.linkTarget));
                }
            }
            syncFiles(sync);
            for (int i = entries.length - 1; i >= 0; i--)
            {
                final Entry e = entries[i];
                current = e;
                if (e.type == DescriptorFlyweight.FILE_DIRECTORY)
                {
                    restore(e);
                    if (sync)
                    {
                        forceDirectory(e.resolved);
                    }
                }
            }
            current = null;
            if (sync)
            {
                forceDirectory(target);
            }
            journal.close();
            // the marker goes last: status first, the journal after it, the directory itself at the very end
            Files.deleteIfExists(stateDir.resolve("status"));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.APPLIED + ".tmp"));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.APPLIED));
            Files.deleteIfExists(stateDir.resolve(RecipientJournal.MANIFEST));
            Files.deleteIfExists(stateDir);
            if (sync)
            {
                forceDirectory(target);
            }
            stage = Stage.DONE;
        }
        catch (final IOException ex)
        {
            throw io("FILE SYNC failed" + (current != null ? " at '" + PathGuard.printable(current.path) + "'" : ""), ex);
        }
    }

    /**
     * Learn which modes new files and directories get here (the umask), so FILE SYNC can skip a chmod per entry that
     * already has its mode: on a tree of 20,000 small files that is 20,000 system calls.
     */
    private void probeDefaultModes() throws IOException
    {
        final Path file = stateDir.resolve("probe-file");
        final Path dir = stateDir.resolve("probe-dir");
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        Files.createDirectory(dir);
        defaultFileMode = ((Integer)Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        defaultDirMode = ((Integer)Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        Files.delete(file);
        Files.delete(dir);
    }

    private void restore(final Entry e) throws IOException
    {
        final int created = e.type == DescriptorFlyweight.FILE_DIRECTORY ? defaultDirMode : defaultFileMode;
        if (e.mode != created)
        {
            Files.setAttribute(e.resolved, "unix:mode", e.mode, LinkOption.NOFOLLOW_LINKS);
        }
        Files.setLastModifiedTime(e.resolved, FileTime.from(e.mtimeNanos, TimeUnit.NANOSECONDS));
    }

    /** Threads forcing and restoring regular files in FILE SYNC: fsync waits on the disk, so more than the cores. */
    private static final int SYNC_THREADS = 4;

    /**
     * FILE SYNC for regular files: check the size, force the bytes (when sync is on), restore mode and mtime. Striped
     * over a few threads, because each fsync waits for the disk and a tree of small files has thousands.
     */
    private void syncFiles(final boolean sync) throws IOException
    {
        final Entry[] es = entries;
        final int threads = es.length < 256 ? 1 : SYNC_THREADS;
        final IOException[] ioFailure = new IOException[1];
        final RuntimeException[] failure = new RuntimeException[1];
        final Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            final int stripe = t;
            final Runnable r = () ->
            {
                try
                {
                    for (int i = stripe; i < es.length; i += threads)
                    {
                        final Entry e = es[i];
                        if (e.type != DescriptorFlyweight.FILE_REGULAR)
                        {
                            continue;
                        }
                        if (sync)
                        {
                            try (FileChannel ch = FileChannel.open(e.resolved, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
                            {
                                if (ch.size() != e.size)
                                {
                                    throw new FerryException(ErrorCode.INTERNAL, "'" + PathGuard.printable(e.path) +
                                        "' has " + ch.size() + " bytes after the copy, expected " + e.size);
                                }
                                ch.force(true);
                            }
                        }
                        restore(e);
                    }
                }
                catch (final IOException ex)
                {
                    synchronized (ioFailure)
                    {
                        ioFailure[0] = ex;
                    }
                }
                catch (final RuntimeException ex)
                {
                    synchronized (ioFailure)
                    {
                        failure[0] = ex;
                    }
                }
            };
            if (threads == 1)
            {
                r.run();
            }
            else
            {
                workers[t] = new Thread(r, "ferry-file-sync-" + t);
                workers[t].start();
            }
        }
        if (threads > 1)
        {
            for (final Thread w : workers)
            {
                try
                {
                    w.join();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new FerryException(ErrorCode.CANCELLED, "FILE SYNC interrupted");
                }
            }
        }
        synchronized (ioFailure)
        {
            if (failure[0] != null)
            {
                throw failure[0];
            }
            if (ioFailure[0] != null)
            {
                throw ioFailure[0];
            }
        }
    }

    private static void forceDirectory(final Path dir) throws IOException
    {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ))
        {
            ch.force(true);
        }
    }

    private void closeFiles()
    {
        for (int i = 0; i < LocatorCodec.MAX_TASKS; i++)
        {
            final Int2ObjectHashMap<FileChannel> files = taskFiles.getAndSet(i, null);
            if (files != null)
            {
                for (final FileChannel ch : files.values())
                {
                    try
                    {
                        ch.close();
                    }
                    catch (final IOException ignore)
                    {
                        // the clone failed already; the marker stays
                    }
                }
            }
        }
    }

    /**
     * @return the number of manifest entries announced, or -1 before the manifest.
     */
    public int entryCount()
    {
        return entries == null ? -1 : announced;
    }

    public int stage()
    {
        return stage;
    }

    static FerryException io(final String what, final IOException ex)
    {
        final String m = String.valueOf(ex.getMessage());
        if (m.contains("No space left on device") || m.contains("Disk quota exceeded"))
        {
            return new FerryException(ErrorCode.DISK_FULL, what + ": the recipient's disk is full", ex);
        }
        return new FerryException(ErrorCode.IO_ERROR, what + ": " + ex, ex);
    }

    @Override
    public void close()
    {
        closeFiles();
    }
}
