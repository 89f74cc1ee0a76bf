package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.Stage;

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
    private final Path target;
    private final CloneSettings settings;
    private final RecipientJournal journal;
    private final Set<String> directories = new HashSet<>();
    private final Set<String> paths = new HashSet<>();

    private TargetEntry[] entries;
    private List<Manifest.Entry> manifestEntries;
    private int received;
    private int announced;
    private volatile int stage = Stage.NONE;
    private int blockSize;
    private long snapshotId;
    private long chunkSize = CloneSettings.CHUNK_SIZE_DEFAULT;
    private int filesPerChunk = CloneSettings.FILES_PER_CHUNK_DEFAULT;
    private boolean journaling = true;
    /** Resume by manifest: what to do with what the interrupted clone left (null unless merging). */
    private ResumeMerge merge;

    ManifestReceiver(final Path target, final CloneSettings settings, final RecipientJournal journal)
    {
        this.target = target;
        this.settings = settings;
        this.journal = journal;
    }

    /**
     * The donor's chunk layout (from COM_RES_CONFIG, or the journal of the clone being resumed).
     */
    void layout(final long chunkSize, final int filesPerChunk)
    {
        this.chunkSize = chunkSize;
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
     * A restart in the metadata stage: forget the manifest, the donor sends it again (directories that exist are
     * kept).
     */
    void reset()
    {
        entries = null;
        received = 0;
        directories.clear();
        paths.clear();
        stage = Stage.NONE;
    }

    /**
     * @return the chunk plan of the manifest received (the donor's own layout, rebuilt), or null before it.
     */
    ChunkPlan plan()
    {
        if (manifestEntries == null || manifestEntries.size() != received)
        {
            return null;
        }
        return ChunkPlan.build(new Manifest(manifestEntries, 0), chunkSize, blockSize, filesPerChunk);
    }

    /**
     * @return the entries (indexed as the donor's manifest), or null before the manifest. Complete once the stage is
     * {@link Stage#FILE_COPY}; read the stage first.
     */
    TargetEntry[] entries()
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
            if (d.fileCount() > FileTreeRecipient.MAX_ENTRIES)
            {
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced " + d.fileCount() +
                    " entries, more than the recipient's limit of " + FileTreeRecipient.MAX_ENTRIES);
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
            entries = new TargetEntry[Math.min(announced, 1024)];
            manifestEntries = new ArrayList<>((int)Math.min(d.fileCount(), 1024));
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
            if (merge != null)
            {
                merge.removeVanished();
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

    void applyFile(final DescriptorFlyweight d)
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
        final TargetEntry e = new TargetEntry(path, resolved, type, d.fileSize(), d.mode(), d.mtimeNanos(),
            type == DescriptorFlyweight.FILE_SYMLINK ? d.linkTarget() : null);
        try
        {
            if (merge != null)
            {
                merge.merge(e);
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
            entries = Arrays.copyOf(entries, (int)Math.min(announced, Math.max(index + 1L, 2L * entries.length)));
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
}
