package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.ManifestScanner;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

import org.agrona.DirectBuffer;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.ApplyData;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.RecipientStorage;
import dev.ferry.core.spi.Stage;

import static dev.ferry.engine.recipient.RecipientFiles.io;

/**
 * The recipient side of the file-tree storage engine: builds the tree under a target directory. A facade over one
 * class per stage:
 * <ul>
 *   <li>{@link ManifestReceiver} (metadata): STATE and FILE descriptors become entries; directories are created as
 *   they are announced, empty files too; paths are guarded so nothing is written through a symlink or outside the
 *   target;</li>
 *   <li>{@link BlockWriter} (file copy): blocks are checked against the manifest and their CRC32C and written at
 *   their offsets with positional writes; each task keeps its own open files;</li>
 *   <li>{@link ResumeMerge} (resume): the same snapshot from the journal, or a new snapshot merged with what an
 *   interrupted clone left;</li>
 *   <li>{@link FileSyncStage} (end): symlinks, modes and times, forcing to disk, and only then the {@code .ferry/}
 *   marker removed.</li>
 * </ul>
 * This class prepares the target and dispatches the SPI calls. See {@link RecipientStorage} for the thread model.
 */
public final class FileTreeRecipient implements RecipientStorage
{
    /** Most entries a manifest may announce, so a hostile donor cannot make the recipient reserve unbounded memory. */
    public static final long MAX_ENTRIES = 100_000_000L;

    private final Path target;
    private final Path stateDir;
    private final DescriptorFlyweight desc = new DescriptorFlyweight();
    private final DescriptorFlyweight[] taskDescriptors = new DescriptorFlyweight[LocatorCodec.MAX_TASKS];
    private final RecipientJournal journal;
    private final ManifestReceiver manifest;
    private final BlockWriter blocks;
    private final FileSyncStage fileSync;
    /** Resume by manifest (null unless merging). */
    private ResumeMerge merge;

    public FileTreeRecipient(final Path target, final CloneSettings settings)
    {
        for (int t = 0; t < taskDescriptors.length; t++)
        {
            taskDescriptors[t] = new DescriptorFlyweight();
        }
        this.target = target.toAbsolutePath().normalize();
        this.stateDir = this.target.resolve(ManifestScanner.STATE_DIR);
        this.journal = new RecipientJournal(stateDir, settings.sync());
        this.manifest = new ManifestReceiver(this.target, settings, journal);
        this.blocks = new BlockWriter(manifest, journal, settings.sync() ? new DirectWrites() : null);
        this.fileSync = new FileSyncStage(this.target, stateDir, settings.sync(), journal);
        this.settingsSync = settings.sync();
    }

    /**
     * The donor's chunk layout (from COM_RES_CONFIG, checked by {@link DonorConfig}), recorded in the journal so a
     * resume can rebuild the plan. Without it (a local clone) the layout is the settings'.
     */
    public void layout(final long chunkSize, final int blockSize, final int filesPerChunk)
    {
        manifest.layout(chunkSize, blockSize, filesPerChunk);
    }

    /**
     * @return how many new files a single block wrote whole, mtime included, leaving FILE SYNC nothing to restore.
     */
    long wholeFilesWritten()
    {
        return blocks.wholeFiles();
    }

    /**
     * Strip set-user-ID and set-group-ID bits from every cloned regular file, whoever runs the clone
     * ({@code --no-setuid}). Without it they are stripped only when the clone runs as root ({@link SetidPolicy}).
     * Before {@link #applyEnd}.
     *
     * @return this.
     */
    public FileTreeRecipient noSetuid(final boolean v)
    {
        fileSync.noSetuid(v);
        return this;
    }

    /**
     * @return the chunk plan of the manifest received (the donor's own layout, rebuilt), or null before it.
     */
    /**
     * Take the manifest streamed (protocol 5): the donor accepted what {@link CloneRun} asked for in COM_INIT.
     */
    void streamedManifest(final boolean on)
    {
        manifest.streamed(on);
    }

    /**
     * @return the plan of a streamed manifest as far as it arrived, or null (master's thread).
     */
    ChunkPlan streamPlan()
    {
        return manifest.streamPlan();
    }

    /**
     * @return whether a streamed manifest is still arriving (data of closed chunks may be applied meanwhile).
     */
    boolean manifestStreaming()
    {
        return manifest.streaming();
    }

    public ChunkPlan plan()
    {
        return manifest.plan();
    }

    /**
     * Continue an interrupted clone of the same snapshot: rebuild the manifest from the journal (nothing is
     * created that exists; nothing is journaled again).
     */
    public void resumeSameSnapshot(final RecipientJournal.Loaded loaded)
    {
        dropStoreInPlace(); // an update cut before it moved its store aside: the store must not outlive its writes
        manifest.snapshot(loaded.snapshotId);
        manifest.layout(loaded.chunkSize, loaded.blockSize, loaded.filesPerChunk);
        manifest.journaling(false);
        try
        {
            fileSync.probeModesIfNeeded();
            ResumeMerge.replaySameSnapshot(loaded, this, manifest);
        }
        catch (final IOException ex)
        {
            throw io("cannot resume into " + target, ex);
        }
        finally
        {
            manifest.journaling(true);
        }
        journal.resumed(loaded);
    }

    /**
     * Resume against a new snapshot: remember what the interrupted clone had, so the manifest keeps unchanged
     * complete files, and files that vanished on the donor are removed when the manifest is complete.
     *
     * @param loaded the journal, or null when the interrupted clone had not recorded its manifest yet.
     */
    public void mergeWith(final RecipientJournal.Loaded loaded, final boolean checksum)
    {
        merge = new ResumeMerge(target, loaded, checksum);
        updateChecksum = checksum; // --checksum reads every compared file, never the hash store
        manifest.mergeWith(merge);
        fileSync.updating(true); // kept and compared files may carry xattrs the donor's entry no longer has
    }

    /**
     * Update a copy in place ({@code ferry clone --update}): the target's tree as it is now is what the recipient
     * has; the manifest keeps unchanged files, marks changed ones for a block diff, moves renamed ones, and removes
     * what the donor no longer has (see {@link ResumeMerge}).
     *
     * @param checksum compare the piece hashes of every file, even when its size and mtime match.
     */
    /**
     * An update whose copy is still being read ({@link #updateInPlace} on another thread): the target is prepared as
     * a copy to merge with, not checked for emptiness, when the donor's locator arrives first.
     */
    void expectUpdate()
    {
        updateExpected = true;
    }

    private volatile boolean updateExpected;

    public void updateInPlace(final boolean checksum)
    {
        updateInPlace(checksum, false);
    }

    /**
     * @param coarseMtimes let the quick check compare mtimes at the copy's file system's granularity
     *     ({@code --coarse-mtimes}); without it a copy that keeps whole seconds has every file compared piece by
     *     piece (correct, and slow), and the update says so.
     */
    public void updateInPlace(final boolean checksum, final boolean coarseMtimes)
    {
        updateChecksum = checksum;
        final long granularity = MtimeGranularity.measure(stateDir);
        if (granularity != MtimeGranularity.EXACT)
        {
            dev.ferry.engine.Trace.mark("update: the copy keeps mtimes to " + (granularity == MtimeGranularity.UNKNOWN ?
                "an unknown granularity: compared exactly" : granularity + " ns: compared at that"));
        }
        if (granularity != MtimeGranularity.EXACT && granularity != MtimeGranularity.UNKNOWN && !coarseMtimes &&
            !checksum)
        {
            fileSync.warn("the copy's file system keeps mtimes to " + (granularity >= 1_000_000 ? granularity /
                1_000_000 + " ms" : granularity + " ns") + ", so every " +
                "file is compared piece by piece; --coarse-mtimes compares mtimes at that (a same-size rewrite " +
                "within one such tick is then missed)", ".");
        }
        merge = ResumeMerge.ofTree(target, checksum, coarseMtimes ? granularity : MtimeGranularity.EXACT);
        manifest.mergeWith(merge);
        fileSync.updating(true);
        fileSync.mtimeGranularity(granularity);
    }

    /** {@link #hashAheadHint()} when there is none to give. */
    static final long NO_HINT = Long.MAX_VALUE;

    /**
     * @return after {@link #updateInPlace}: which donor files the update will compare piece by piece, for the
     *     donor to hash ahead (COM_EXECUTE HASH_AHEAD): those modified after the newest mtime among the copy's
     *     regular files (no file of the copy has such an mtime, so none of them passes the quick check); with
     *     {@code --checksum} every file (Long.MIN_VALUE). {@link #NO_HINT} when the copy has no regular file or this
     *     is not an update.
     */
    long hashAheadHint()
    {
        final ResumeMerge m = merge;
        if (m == null || m.newestFileMtime() == Long.MIN_VALUE) // no update, or a copy without a regular file
        {
            return NO_HINT;
        }
        return updateChecksum ? Long.MIN_VALUE : m.newestFileMtime();
    }

    RecipientJournal journal()
    {
        return journal;
    }

    /**
     * The piece hashes of every file the merge kept in place for a block diff, computed on {@code threads} threads
     * (each reads its files sequentially), within the heap's budget for hashes.
     */
    public HaveList hashHave(final int threads)
    {
        return hashHave(threads, null);
    }

    /**
     * As {@link #hashHave(int)}, with the hashes {@code cache} holds for files as they are now.
     */
    HaveList hashHave(final int threads, final CopyHashCache cache)
    {
        // an update reads the copy's hashes from its store where it describes the file as it is now (not with
        // --checksum, which asks for every piece to be read)
        final HashStore old = updateChecksum ? null : HashStore.open(target);
        final KnownHashes known = cache == null ? old : old == null ? cache : (e, maxPieces, pieceSize) ->
        {
            final long[] h = cache.lookup(e, maxPieces, pieceSize);
            return h != null ? h : old.lookup(e, maxPieces, pieceSize);
        };
        try
        {
            final HaveList have = HaveList.compute(manifest.entries(),
                ResumeMerge.keptPastPrefix(plan(), manifest.entries()), pieceSize(), threads, known);
            storeHits = old == null ? 0 : old.hits();
            storeHitBytes = old == null ? 0 : old.hitBytes();
            if (storeMode == STORE_UPDATE)
            {
                startUpdateStore(have, old);
            }
            else
            {
                dropStoreInPlace(); // this run writes data and keeps no store: none may outlive those writes
            }
            return have;
        }
        finally
        {
            if (old != null)
            {
                old.close();
            }
        }
    }

    /** No hash store is written (a plain clone, a resume in a new process, a local clone, {@code --no-sync}). */
    static final int STORE_OFF = 0;
    /** A fresh clone: every file of {@link HashStore#MIN_BYTES} or more is hashed as it is written. */
    static final int STORE_FRESH = 1;
    /**
     * An update, or a live clone's pass after the first: compared files keep the hashes sent, overwritten where
     * written; kept files keep their record; new files are hashed as they are written.
     */
    static final int STORE_UPDATE = 2;

    /**
     * A live clone's pass that another follows has applied everything and made it durable: the store is finished as
     * the copy is now, so the next pass reads its files' hashes from it. No-op without a store.
     */
    void finishPassStore()
    {
        final HashStore.Builder b = storeBuilder;
        if (b == null || manifest.entries() == null)
        {
            return;
        }
        dropStoreRefs();
        try
        {
            b.finish(manifest.entries(), target, settingsSync, false); // before FILE SYNC: mtimes not yet the donor's
        }
        catch (final IOException | RuntimeException ex)
        {
            b.abandon();
            try
            {
                Files.deleteIfExists(target.resolve(ManifestScanner.HASH_STORE));
            }
            catch (final IOException ignore)
            {
                // its records no longer match the files: never used
            }
        }
    }

    private void dropStoreRefs()
    {
        blocks.store(null);
        fileSync.store(null);
        storeBuilder = null;
    }

    private int storeMode = STORE_OFF;
    private final boolean settingsSync;
    private boolean updateChecksum;
    private HashStore.Builder storeBuilder;
    private long storeHits;
    private long storeHitBytes;

    /**
     * Which hash store this attempt writes ({@link #STORE_OFF} by default; always off with {@code --no-sync}).
     * Before the clone starts.
     */
    void hashStore(final int mode)
    {
        // not with --no-sync: a store whose hashes a crash lost while its stamps survived would be believed
        storeMode = HashStore.ENABLED && settingsSync ? mode : STORE_OFF;
    }

    /**
     * @return files, and their bytes, whose hashes the last {@link #hashHave} took from the copy's hash store.
     */
    long[] storeHits()
    {
        return new long[] { storeHits, storeHitBytes };
    }

    private void startFreshStore()
    {
        dropStore();
        final TargetEntries entries = manifest.entries();
        try
        {
            final HashStore.Builder b = new HashStore.Builder(stateDir, pieceSize());
            for (int i = 0; i < entries.size(); i++)
            {
                if (entries.type(i) == DescriptorFlyweight.FILE_REGULAR)
                {
                    final long size = entries.packed().fileSize(i);
                    if (HashStore.Builder.wanted(size))
                    {
                        b.add(i, size, null);
                    }
                }
            }
            installStore(b);
        }
        catch (final IOException | RuntimeException ex)
        {
            dropStore(); // the store is an optimisation: the clone goes on without one
        }
    }

    private void startUpdateStore(final HaveList have, final HashStore old)
    {
        dropStore();
        final TargetEntries entries = manifest.entries();
        final int pieceSize = pieceSize();
        HashStore.Builder b = null;
        try
        {
            b = new HashStore.Builder(stateDir, pieceSize);
            if (old != null)
            {
                b.previous(old.records());
            }
            for (int k = 0; k < have.fileSlots(); k++)
            {
                final int i = have.fileIndex(k);
                final long[] sent = have.hashesAt(k);
                final TargetEntry e = entries.get(i);
                if (sent != null && e.have() && HashStore.Builder.wanted(e.size))
                {
                    b.add(i, e.size, sent);
                }
            }
            for (int i = 0; i < entries.size(); i++)
            {
                if (entries.type(i) != DescriptorFlyweight.FILE_REGULAR || entries.is(i, TargetEntries.HAVE))
                {
                    continue;
                }
                final long size = entries.packed().fileSize(i);
                if (!HashStore.Builder.wanted(size))
                {
                    continue;
                }
                if (!entries.is(i, TargetEntries.KEPT))
                {
                    b.add(i, size, null); // sent whole into a new file
                }
                else if (old != null)
                {
                    // kept as it is: its record, if it still describes the file; a file the merge moved here (a
                    // rename on the donor) has its record under the old path, checked as the file was before the
                    // move, and carried with the stamp the move left
                    final TargetEntry e = entries.get(i);
                    final ResumeMerge.Moved m = merge == null ? null : merge.movedFrom(i);
                    final long pieces = (size + pieceSize - 1) / pieceSize;
                    final long[] known = m == null ? old.lookup(e, pieces, pieceSize) :
                        old.lookup(m.oldPath(), null, m.stampBefore(), pieces, pieceSize);
                    final long[] stamp = m == null ? old.lastStamp() : HashStore.stamp(e.resolved());
                    final long[] was = m == null ? null : m.stampBefore();
                    // the move changes only the ctime: anything else moved since, and the record is not carried
                    final boolean same = m == null || stamp != null && stamp[0] == was[0] && stamp[1] == was[1] &&
                        stamp[2] == was[2] && stamp[3] == was[3];
                    if (known != null && stamp != null && same)
                    {
                        b.add(i, size, known, stamp);
                        if (m != null)
                        {
                            b.changed(); // its record moves to the new path: the store in place no longer says this
                        }
                    }
                }
            }
            // an update that writes data moves the store in place aside first (a crash must not leave it believed)
            boolean writes = !have.isEmpty() || have.fileSlots() > 0;
            for (int i = 0; i < entries.size() && !writes; i++)
            {
                writes = entries.type(i) == DescriptorFlyweight.FILE_REGULAR && !entries.is(i, TargetEntries.KEPT) &&
                    entries.packed().fileSize(i) > 0;
            }
            if (writes)
            {
                b.retire(target, settingsSync);
            }
            installStore(b);
        }
        catch (final IOException | RuntimeException ex)
        {
            if (b != null && b != storeBuilder)
            {
                b.abandon();
            }
            dropStore();
            dropStoreInPlace();
        }
    }

    /**
     * Remove the copy's store before a run that writes data without keeping one (a resume in a new process, an
     * update with {@code --no-sync}, a store that could not be laid out): a crash could keep a rewritten file's
     * new bytes and lose the ctime change its record would no longer match. Forced with the clone's durability.
     */
    private void dropStoreInPlace()
    {
        final Path inPlace = target.resolve(ManifestScanner.HASH_STORE);
        try
        {
            if (Files.deleteIfExists(inPlace) && settingsSync)
            {
                RecipientFiles.forceDirectory(target);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            // a directory under the name, say: HashStore.open never reads anything but a regular file
        }
    }

    private void installStore(final HashStore.Builder b)
    {
        storeBuilder = b;
        blocks.store(b);
        fileSync.store(b);
    }

    private void dropStore()
    {
        final HashStore.Builder b = storeBuilder;
        if (b != null)
        {
            dropStoreRefs();
            b.abandon();
        }
    }

    int pieceSize()
    {
        return DescriptorFlyweight.pieceSize(manifest.blockSize());
    }

    TargetEntries entries()
    {
        return manifest.entries();
    }

    java.util.Queue<long[]> haveWrites()
    {
        return blocks.haveWrites();
    }

    /**
     * Record the writes into compared files for the hash cache (a live pass that may be followed by another); off by
     * default, so an update or a resume does not hold one record per block it writes.
     */
    void trackHaveWrites(final boolean v)
    {
        blocks.trackHaveWrites(v);
    }

    /**
     * After a merged manifest: the applied state of the new snapshot in which every chunk whose leading blocks
     * belong to kept files counts as applied, so the donor sends only the rest.
     */
    public AppliedState mergedApplied()
    {
        return ResumeMerge.mergedApplied(plan(), manifest.entries());
    }

    /**
     * @return entries kept from an interrupted clone, and their bytes.
     */
    public long[] keptCounts()
    {
        return ResumeMerge.keptCounts(manifest.entries());
    }

    /**
     * @return the donor's files that the merge moved into place from another path (renames), so far.
     */
    public long movedCount()
    {
        return merge == null ? 0 : merge.moved();
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
        blocks.force(index);
    }

    public Path target()
    {
        return target;
    }

    /**
     * @return true if {@code stateDir} holds nothing but the {@link TargetLock}'s file.
     */
    private static boolean onlyLock(final Path stateDir) throws IOException
    {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(stateDir))
        {
            for (final Path p : s)
            {
                if (!p.getFileName().toString().equals(TargetLock.FILE))
                {
                    return false;
                }
            }
        }
        return true;
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
                    blocks.close();
                    dropStore();
                    manifest.reset();
                }
                return locator;
            default:
                throw new FerryException(ErrorCode.INTERNAL, "unknown mode " + mode);
        }
    }

    private void prepareTarget(final Locator locator)
    {
        if (merge != null || updateExpected)
        {
            try
            {
                Files.createDirectories(stateDir);
                fileSync.probeModesIfNeeded();
                manifest.snapshot(locator.snapshotId());
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
                    for (final Path p : s)
                    {
                        if (!p.equals(stateDir) || !onlyLock(stateDir))
                        {
                            throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " is not empty" +
                                (isIncomplete(target) ? " (it holds an interrupted clone)" : ""));
                        }
                    }
                }
            }
            else
            {
                Files.createDirectories(target);
            }
            Files.createDirectories(stateDir); // the target lock made it
            blocks.freshTarget(true); // it was empty: every file this clone writes is new
            fileSync.probeDefaultModes();
            blocks.finishesWhole(fileSync::writerRestores);
            manifest.snapshot(locator.snapshotId());
            writeStatus();
        }
        catch (final IOException ex)
        {
            throw io("cannot prepare target " + target, ex);
        }
    }

    private void writeStatus() throws IOException
    {
        Files.write(stateDir.resolve("status"), ("incomplete clone of snapshot " + Long.toHexString(manifest.snapshotId()) +
            "\nthis directory is not a finished copy while .ferry/ exists; continue it with ferry clone --resume\n")
            .getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void apply(
        final Locator locator, final int task, final DirectBuffer buffer, final int offset, final int length,
        final ApplyData data)
    {
        // data comes from several apply threads at once, each with its own task number and flyweight
        final DescriptorFlyweight d = data == null ? desc : taskDescriptors[task];
        d.wrap(buffer, offset, length);
        if (d.validate() != ErrorCode.OK)
        {
            throw new FerryException(ErrorCode.MALFORMED_FRAME, "malformed descriptor from donor");
        }
        switch (d.type())
        {
            case DescriptorFlyweight.TYPE_STATE:
                manifest.applyState(d);
                if (storeMode == STORE_FRESH && merge == null && !updateExpected &&
                    manifest.stage() == Stage.FILE_COPY && storeBuilder == null)
                {
                    startFreshStore(); // the manifest is complete and no data has moved
                }
                break;
            case DescriptorFlyweight.TYPE_FILE:
                manifest.applyFile(d);
                break;
            case DescriptorFlyweight.TYPE_DATA:
                blocks.apply(task, d, data);
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
        blocks.apply(task, d, data);
    }

    @Override
    public void applyEnd(final Locator locator, final int task, final int error)
    {
        blocks.close();
        final TargetEntries entries = manifest.entries();
        if (error != ErrorCode.OK || entries == null)
        {
            dropStore();
            return;
        }
        if (manifest.stage() != Stage.FILE_COPY)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the clone ended before the file copy stage");
        }
        manifest.stage(Stage.FILE_SYNC);
        if (dev.ferry.engine.Trace.ON)
        {
            dev.ferry.engine.Trace.mark("FILE SYNC begins; " + blocks.wholeFiles() + " files were written whole with " +
                "their mtime");
        }
        fileSync.run(entries);
        manifest.stage(Stage.DONE);
    }

    /**
     * @return what FILE SYNC could not reproduce, one line per kind with a count and the first entries it concerns
     * (owners not kept as non-root, FIFOs or device nodes not recreated, xattrs refused); empty before FILE SYNC and
     * when everything was kept. The thread that ran {@link #applyEnd}.
     */
    public java.util.List<String> warnings()
    {
        return fileSync.warnings();
    }

    /**
     * @return the number of manifest entries announced, or -1 before the manifest.
     */
    public int entryCount()
    {
        return manifest.entryCount();
    }

    public int stage()
    {
        return manifest.stage();
    }

    @Override
    public void close()
    {
        blocks.close();
        if (manifest.stage() != Stage.DONE)
        {
            dropStore();
        }
    }
}
