package dev.ferry.engine.recipient;

import dev.ferry.engine.EndpointOptions;
import dev.ferry.engine.TlsHints;
import dev.ferry.engine.Trace;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.ManifestScanner;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.SystemNanoClock;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.CloneProgress;
import dev.ferry.transport.TokenBucket;
import dev.ferry.engine.ProgressCounters;
import dev.ferry.transport.TransportSettings;

/**
 * Clones a donor's tree into a local directory over TCP: the recipient side of the remote clone flow. Embeddable:
 * {@link #run()} blocks until the clone is complete and synced, and either returns a {@link CloneResult} or throws a
 * {@link FerryException} whose {@link FerryException#describe()} is one line a person can act on. Never exits the
 * JVM, logs nothing, keeps no global state.
 * <p>
 * The master task ships the metadata; once it is applied, {@code threads - 1} more tasks attach, each on its own
 * connection; apply workers write blocks; when every task is complete, FILE SYNC runs and each task sends
 * {@code COM_EXIT}. One {@code CloneClient} runs one clone.
 */
public final class CloneClient implements AutoCloseable
{
    /**
     * Options of a clone. Chained setters.
     */
    public static final class Options extends EndpointOptions<Options>
    {
        @Override
        protected Options self()
        {
            return this;
        }

        private int threads = 2;
        private int maxThreads;
        private int applyThreads = 2;
        private int poolBuffers = 32;
        private boolean requireChecksum;
        private Consumer<CloneProgress> onProgress = p -> { };
        private long progressIntervalMs = 1000;
        private int maxRestarts = 100;
        private boolean resume;
        private boolean resumeChecksum;
        private boolean update;
        private List<String> allowDonors;
        private long restartWindowMs = -1;
        private boolean noSetuid;
        private long maxRate = TokenBucket.UNLIMITED;

        /**
         * Cap the clone at this many bytes per second received, all connections together ({@link TokenBucket}: a
         * burst of 200 ms of the rate); 0 (the default) for no limit. {@link CloneClient#setMaxRate} changes it while
         * the clone runs.
         */
        public Options maxRate(final long bytesPerSecond)
        {
            maxRate = bytesPerSecond;
            return this;
        }
        private boolean noWait;
        private boolean strict;
        private boolean noFreeze;
        private int maxRounds = 8;
        private long convergeBytes = 64L << 20;
        private int compressLevel;

        /** zstd level of {@code ferry clone --compress} without a level. */
        public static final int COMPRESS_LEVEL_DEFAULT = 3;

        /**
         * Ask the donor to send each block compressed with zstd at {@code level} (1..22) where that makes it shorter,
         * for slow links; 0 (the default) for no compression, the right choice on loopback and LANs, where it costs
         * the donor CPU and rules out sendfile for the blocks it shrinks.
         *
         * @throws IllegalArgumentException if the level is not 0 or 1..22.
         */
        public Options compress(final int level)
        {
            if (level != 0)
            {
                dev.ferry.core.protocol.ExecuteFlags.compress(level); // checks the range
            }
            compressLevel = level;
            return this;
        }

        int compressLevel()
        {
            return compressLevel;
        }

        /**
         * Connections (clone tasks), at least 1.
         */
        public Options threads(final int v)
        {
            threads = v;
            return this;
        }

        /** Most connections a clone may have, like the clone plugin's cap. */
        public static final int THREADS_CAP = 128;
        /** Default of {@code ferry clone --max-threads}. */
        public static final int MAX_THREADS_DEFAULT = 16;

        /**
         * Autotune: start with {@link #threads} connections and add one at a time while each addition raises the
         * throughput ({@link ConcurrencyTuner}: by at least 10% over a 1 s window after 0.5 s to settle; two that do
         * not pay stop it), up to {@code v} ({@code ferry clone} without {@code --threads}: 2 up to
         * {@code --max-threads}, default {@value #MAX_THREADS_DEFAULT}). 0 (the default here): the count stays at
         * {@link #threads}. At most {@value #THREADS_CAP}.
         */
        public Options maxThreads(final int v)
        {
            maxThreads = v;
            return this;
        }

        /**
         * Threads writing blocks to disk, at least 1.
         */
        public Options applyThreads(final int v)
        {
            applyThreads = v;
            return this;
        }

        /**
         * Block buffers per connection: how much may be in flight between the socket and the disk.
         */
        public Options poolBuffers(final int v)
        {
            poolBuffers = v;
            return this;
        }




        /**
         * Refuse a donor that sends blocks without CRC32C.
         */
        public Options requireChecksum(final boolean v)
        {
            requireChecksum = v;
            return this;
        }

        /**
         * Called on the thread running {@link CloneClient#run()} about every {@code intervalMs} with a snapshot of the
         * clone's progress, at once when the clone starts reconnecting, and once more at its end (success or failure).
         */
        public Options onProgress(final Consumer<CloneProgress> listener, final long intervalMs)
        {
            onProgress = listener;
            progressIntervalMs = intervalMs;
            return this;
        }

        /**
         * Most reconnections after network failures before the clone gives up (default 100; 0 disables restart).
         */
        public Options maxRestarts(final int v)
        {
            maxRestarts = v;
            return this;
        }

        /**
         * How long to keep trying to reconnect after a network failure; default: the window the donor announced.
         */
        public Options restartWindowMs(final long v)
        {
            restartWindowMs = v;
            return this;
        }

        /**
         * Continue an interrupted clone in a non-empty target that holds {@code .ferry/} state: against the same
         * snapshot if the donor still holds it, else against a new one, keeping unchanged complete files.
         */
        public Options resume(final boolean v)
        {
            resume = v;
            return this;
        }

        /**
         * Compare the contents of every file the copy has, not only those whose size or mtime differ: each piece's
         * XXH3-128 hash against the donor's bytes (both sides read everything), so a file changed with its size and
         * mtime restored is still brought up to date. Applies to {@link #update} and to a resume against a new
         * snapshot ({@code --checksum}; {@code --resume-checksum} is the same).
         */
        public Options resumeChecksum(final boolean v)
        {
            resumeChecksum = v;
            return this;
        }

        /**
         * Fail with FILE_CHANGED as soon as a donor file changes while it is copied ({@code --strict}), instead of
         * copying it again in a change pass (the default: a live tree clones).
         */
        public Options strict(final boolean v)
        {
            strict = v;
            return this;
        }

        boolean strict()
        {
            return strict;
        }

        /**
         * A live clone ends, when the donor has a freeze hook, with a pass taken inside the freeze; with this it
         * converges without freezing, as with a donor that has none (consistent per file, not across files).
         */
        public Options noFreeze(final boolean v)
        {
            noFreeze = v;
            return this;
        }

        /**
         * At most this many passes before the last one ({@code --max-rounds}, default 8): with a freeze hook the
         * freeze then comes whatever is left; without one the clone ends and names the files still changing.
         */
        public Options maxRounds(final int v)
        {
            if (v < 1 || v > 1000)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--max-rounds must be 1..1000, got " + v);
            }
            maxRounds = v;
            return this;
        }

        /**
         * With a freeze hook: freeze once a change pass moved at most this many data bytes ({@code --converge},
         * default 64 MiB), so the freeze holds the dataset for about the time those bytes take.
         */
        public Options convergeBytes(final long v)
        {
            if (v < 0)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--converge must be >= 0, got " + v);
            }
            convergeBytes = v;
            return this;
        }

        /**
         * Bring an existing copy up to date ({@code --update}): the target may be any directory (the flag is the
         * caller's word that it is meant to become the donor's tree); unchanged files are kept, changed files get
         * only their changed pieces, renamed files are moved, and what the donor no longer has is removed. While it
         * runs the target holds {@code .ferry/} again, so an interrupted update continues with {@code --resume}.
         */
        public Options update(final boolean v)
        {
            update = v;
            return this;
        }

        /**
         * Hash every file of the copy as it is written ({@code --keep-hashes}), into the copy's hash store, so that
         * the first {@code --update} need not read the copy's changed files (later updates need not anyway: each
         * keeps the hashes of what it compared and wrote). Costs the recipient one XXH3-128 pass over the data (on
         * two cores here, 3 GiB of large files took 5.2-5.5 s instead of 4.0-4.3 s under C1). Default from
         * {@code -Dferry.hashes.clone}, false.
         */
        public Options keepHashes(final boolean v)
        {
            keepHashes = v;
            return this;
        }

        boolean keepHashes = Boolean.getBoolean("ferry.hashes.clone");

        /**
         * An update's quick check compares mtimes at the copy's file system's granularity ({@code --coarse-mtimes}),
         * when it keeps whole seconds (or two): rsync's {@code --modify-window}. Without it such a copy has every
         * file compared piece by piece, which is correct but reads it all; with it a same-size rewrite within one
         * tick of the copy's clock is missed until the file changes again. Off by default.
         */
        public Options coarseMtimes(final boolean v)
        {
            coarseMtimes = v;
            return this;
        }

        boolean coarseMtimes;

        boolean resumeChecksum()
        {
            return resumeChecksum;
        }

        /**
         * Strip set-user-ID and set-group-ID bits from every cloned regular file (a cautious choice for a donor one
         * does not trust). Without it they are kept with the donor's owner: as root the owner is cloned too, and as
         * another user the file belongs to that user.
         */
        public Options noSetuid(final boolean v)
        {
            noSetuid = v;
            return this;
        }


        /**
         * When the donor announces that it shuts down ({@code DONOR_SHUTDOWN}), fail at once instead of waiting for it
         * to come back within the restart window.
         */
        public Options noWait(final boolean v)
        {
            noWait = v;
            return this;
        }

        /**
         * Clone only from donors on this list of HOST:PORT (as the clone plugin's clone_valid_donor_list): any other
         * donor is refused before connecting. Null or empty: any donor.
         */
        public Options allowDonors(final List<String> v)
        {
            allowDonors = v;
            return this;
        }


        int threads()
        {
            return threads;
        }

        int poolBuffers()
        {
            return poolBuffers;
        }





        boolean requireChecksum()
        {
            return requireChecksum;
        }
    }

    private final InetSocketAddress donor;
    private final Path target;
    private final Options options;
    private final ProgressCounters progress = new ProgressCounters();
    private final TokenBucket throttle;
    private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);
    private volatile boolean cancelled;
    private volatile Thread driver;
    private boolean started;

    /**
     * @param donor   the donor's address.
     * @param target  the directory to clone into: absent, empty, or (with {@link Options#resume}) an interrupted clone.
     * @param options the clone's options; not to be changed once {@link #run()} was called.
     * @throws IllegalArgumentException if {@link Options#maxRate} is negative.
     * @throws FerryException naming {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} if the JVM lacks it.
     */
    public CloneClient(final InetSocketAddress donor, final Path target, final Options options)
    {
        JvmAccess.check();
        this.donor = donor;
        this.target = target.toAbsolutePath().normalize();
        this.options = options;
        this.throttle = new TokenBucket(SystemNanoClock.INSTANCE, options.maxRate, null);
    }

    /**
     * Change the rate limit while the clone runs (and for its restarts). Any thread.
     *
     * @param bytesPerSecond received bytes per second, all connections together; 0 for no limit.
     * @throws IllegalArgumentException if negative.
     */
    public void setMaxRate(final long bytesPerSecond)
    {
        throttle.rate(bytesPerSecond);
    }

    /**
     * @return the rate limit in bytes/s, 0 for none. Any thread.
     */
    public long maxRate()
    {
        return throttle.rate();
    }

    /**
     * @return what the clone has done so far: an immutable copy; any thread.
     */
    public CloneProgress progress()
    {
        return progress.snapshot();
    }

    /**
     * @return all chunk latencies recorded so far (first byte received to last block applied), in nanoseconds. Call
     * from one thread.
     */
    public org.HdrHistogram.Histogram chunkLatency()
    {
        return progress.chunkLatency();
    }

    /**
     * Ask a running (or not yet started) clone to stop: {@link #run()} then throws a {@link FerryException} with
     * {@code CANCELLED} promptly, leaving {@code .ferry/} so that the clone can be resumed. Any thread; returns at once.
     */
    public void cancel()
    {
        cancelled = true;
        final Thread t = driver;
        if (t != null)
        {
            java.util.concurrent.locks.LockSupport.unpark(t);
        }
    }

    /**
     * Cancel the clone if it runs and wait (up to 30 s) until {@link #run()} returned. Any thread but the one in
     * {@link #run()}.
     */
    @Override
    public void close()
    {
        cancel();
        if (driver != null && driver != Thread.currentThread())
        {
            try
            {
                ended.await(30, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Run the clone.
     *
     * @return what was copied.
     * @throws FerryException if the clone failed; the target then carries the {@code .ferry/} marker if anything was
     *                        written.
     */
    public CloneResult run()
    {
        synchronized (this)
        {
            if (started)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "a CloneClient runs one clone; make a new one");
            }
            started = true;
        }
        driver = Thread.currentThread();
        try
        {
            return runOnce();
        }
        catch (final FerryException ex)
        {
            progress.onFailure(ex);
            options.onProgress.accept(progress.snapshot()); // the final record, with the error
            throw ex;
        }
        catch (final Error ex)
        {
            // out of heap (or another Error) on the driver: the clone fails like any other, its tables released
            final FerryException failure = dev.ferry.engine.FatalErrors.fatal(ex, "the clone failed");
            try
            {
                progress.onFailure(failure);
                options.onProgress.accept(progress.snapshot());
            }
            catch (final Error again)
            {
                // the failure is what matters
            }
            throw failure;
        }
        finally
        {
            driver = null;
            ended.countDown();
        }
    }

    private CloneResult runOnce()
    {
        if (cancelled)
        {
            throw new FerryException(ErrorCode.CANCELLED, "clone cancelled before it started");
        }
        if (options.threads < 1 || options.threads > Options.THREADS_CAP || options.applyThreads < 1 ||
            options.poolBuffers < 2 || options.maxThreads != 0 &&
            (options.maxThreads < options.threads || options.maxThreads > Options.THREADS_CAP))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "threads must be 1.." + Options.THREADS_CAP +
                ", max threads 0 (no autotune) or threads.." + Options.THREADS_CAP + ", apply threads >= 1 and " +
                "pool buffers >= 2 (got " + options.threads + ", " + options.maxThreads + ", " + options.applyThreads +
                ", " + options.poolBuffers + ")");
        }
        options.settings().conclude();
        TlsHints.checkRequiredTls(options.transport(), false);
        options.transport().conclude();
        if (options.transport().tls() != null && !options.transport().tls().clientMode())
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the client was given a donor's TLS config; it needs " +
                "TlsConfig.client (--tls-ca)");
        }
        checkAllowed();
        refuseBeforeLocking();
        try (TargetLock lock = TargetLock.acquire(target))
        {
            Trace.mark("target locked");
            return run(checkTarget(lock));
        }
    }

    /**
     * The first pass, then, for a live clone that has not converged, change passes against new snapshots (each a
     * resume by manifest against the journal of the pass before, so only what changed travels), and with a donor
     * freeze hook a last pass inside the freeze.
     */
    private CloneResult run(final int kind)
    {
        CloneResult r = firstPass(kind);
        int round = 1;
        while (r == null)
        {
            round++;
            rounds = round;
            final boolean freeze = donorFreezes && !options.noFreeze &&
                (lastPassData <= options.convergeBytes || round > options.maxRounds);
            if (round > options.maxRounds + 4)
            {
                throw new FerryException(ErrorCode.FILE_CHANGED, "the clone did not converge in " + (round - 1) +
                    " passes", "the donor's dataset changes faster than it can be copied; raise --max-rounds or " +
                    "use a freeze hook", null);
            }
            try
            {
                r = attempt(RESUME_MERGE, RecipientJournal.load(target.resolve(ManifestScanner.STATE_DIR)),
                    freeze ? Stage.FREEZE : Stage.CHANGE_COPY);
            }
            catch (final FerryException ex)
            {
                // a frozen snapshot thawed after a cut, or the donor restarted: converge again from the journal
                if (ex.code() != ErrorCode.UNKNOWN_SNAPSHOT)
                {
                    throw ex;
                }
                progress.onRestart();
                lastPassData = Long.MAX_VALUE;
            }
        }
        return r;
    }

    /** Set by a pass that was not the last: for the next pass's choice. */
    private boolean donorFreezes;
    private long lastPassData = Long.MAX_VALUE;
    private int rounds = 1;

    private CloneResult firstPass(final int kind)
    {
        progress.threads(options.threads);
        if (kind == RESUME_SAME)
        {
            final RecipientJournal.Loaded loaded = RecipientJournal.load(target.resolve(ManifestScanner.STATE_DIR));
            try
            {
                return attempt(RESUME_SAME, loaded);
            }
            catch (final FerryException ex)
            {
                if (ex.code() != ErrorCode.UNKNOWN_SNAPSHOT)
                {
                    throw ex;
                }
                // the donor no longer holds the snapshot: resume against a new one, comparing manifests
            }
            return attempt(RESUME_MERGE, loaded);
        }
        if (kind == RESUME_MERGE)
        {
            return attempt(RESUME_MERGE, RecipientJournal.load(target.resolve(ManifestScanner.STATE_DIR)));
        }
        if (kind == UPDATE)
        {
            return attempt(UPDATE, null);
        }
        try
        {
            return attempt(FRESH, null);
        }
        catch (final FerryException ex)
        {
            // the donor restarted during the clone (its snapshot is gone): continue against a new snapshot, keeping
            // what the journal proves complete, as --resume would
            if (ex.code() != ErrorCode.UNKNOWN_SNAPSHOT || options.maxRestarts == 0 ||
                !FileTreeRecipient.isIncomplete(target))
            {
                throw ex;
            }
        }
        progress.onRestart();
        return attempt(RESUME_MERGE, RecipientJournal.load(target.resolve(ManifestScanner.STATE_DIR)));
    }

    /** The copy's piece hashes as the last pass left them (a live clone's passes compare the same files again). */
    private final CopyHashCache hashCache = new CopyHashCache();

    private long frozenNanos = -1;
    private long frozenBytes;
    private long unstableFiles;

    /**
     * Whether the pass that just applied everything is the clone's last: always for a strict clone and for the
     * frozen pass; with a donor freeze hook never before the frozen pass; without one when no file changed under
     * the donor's reads (each file is then a version that existed, read while it held still), or after
     * {@code --max-rounds} passes.
     */
    private boolean lastPass(final CloneRun run, final FileTreeRecipient recipient, final int passStage)
    {
        if (!run.live() || passStage == Stage.FREEZE)
        {
            return true;
        }
        if (run.tornBlocks() > 0)
        {
            return false; // a pass with a torn block is never the last: the next one compares its files
        }
        if (run.donorFreezes() && !options.noFreeze)
        {
            return false;
        }
        // RECENT files were read only after the donor's racy window had passed (FileTreeDonor), so the donor's check
        // after each read catches any write during it: no change counted means every file held still while read
        return run.donorChanged() == 0 || rounds >= options.maxRounds;
    }

    /** {@code -Dferry.stream=false}: never ask for a streamed manifest (PROTOCOL.md 6.5). */
    static final boolean STREAM = !"false".equals(System.getProperty("ferry.stream"));
    private static final int FRESH = 0;
    private static final int RESUME_SAME = 1;
    private static final int RESUME_MERGE = 2;
    private static final int UPDATE = 3;

    private CloneResult attempt(final int kind, final RecipientJournal.Loaded loaded)
    {
        return attempt(kind, loaded, Stage.FILE_COPY);
    }

    /**
     * @param passStage FILE_COPY for a clone's first pass, CHANGE_COPY or FREEZE for a live clone's later ones.
     * @return the result, or null when this was a live clone's pass that was not the last one.
     */
    private CloneResult attempt(final int kind, final RecipientJournal.Loaded loaded, final int passStage)
    {
        final FileTreeRecipient recipient = new FileTreeRecipient(target, options.settings()).noSetuid(options.noSetuid);
        final CloneRun run = new CloneRun(options, recipient, progress);
        run.throttle(throttle);
        run.passStage(passStage);
        recipient.trackHaveWrites(run.live() && passStage != Stage.FREEZE); // the hash cache's input
        // the copy's hash store: every write of this process is hashed into it. A resume in a new process, or after a
        // first attempt failed, does not know what the one before wrote, so it writes none (the old store's records
        // no longer match the files written since, and are not used); a live clone's later passes carry on from the
        // store the pass before finished (its stamps tell what was written since); a retry after a pass that failed
        // finds none in place (that pass had moved it aside) and hashes what it compares
        recipient.hashStore(kind == FRESH ? (options.keepHashes ? FileTreeRecipient.STORE_FRESH :
            FileTreeRecipient.STORE_OFF) : kind == UPDATE ||
            (kind == RESUME_MERGE && passStage != Stage.FILE_COPY) ? FileTreeRecipient.STORE_UPDATE :
            FileTreeRecipient.STORE_OFF);
        final long dataAtStart = progress.dataBytes();
        // a frozen pass too runs on every connection: the donor reads (and hashes) the hot files on all its loops
        final int taskCount = options.threads;
        final ApplyWorker[] workers = new ApplyWorker[options.applyThreads];
        final List<AgentRunner> workerRunners = new ArrayList<>();
        final List<ClientTask> tasks = new ArrayList<>();
        HaveList passHave = null; // what this pass compared, for the hash cache
        final int queueCapacity = Math.max(64, Math.max(options.threads, options.maxThreads) * options.poolBuffers * 2);
        for (int i = 0; i < workers.length; i++)
        {
            workers[i] = new ApplyWorker(i, recipient, run, queueCapacity);
            final AgentRunner r = new AgentRunner(new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1),
                TimeUnit.MICROSECONDS.toNanos(200)), run::onLoopError, null, workers[i]);
            workerRunners.add(r);
            AgentRunner.startOnThread(r);
        }
        run.workers(workers);
        long nextProgress = System.nanoTime();
        long nextCheckpoint = System.nanoTime() + CHECKPOINT_NANOS;
        try
        {
            final ClientTask master;
            if (kind == RESUME_SAME)
            {
                recipient.resumeSameSnapshot(loaded);
                final dev.ferry.engine.layout.ChunkPlan plan = recipient.plan();
                run.preset(Locator.real(Locator.ENGINE_FILE_TREE, options.protocolMax(), loaded.snapshotId, 0, Stage.FILE_COPY),
                    loaded.applied != null && loaded.applied.chunkCount() == plan.chunkCount() ? loaded.applied :
                    new AppliedState(plan.chunkCount()));
                progress.estimate(plan.chunkCount() == 0 ? 0 : estimate(plan), recipient.entryCount());
                progress.stage(Stage.FILE_COPY);
                progress.snapshotId(loaded.snapshotId);
                master = new ClientTask(run, 0, CloneMode.RESTART);
            }
            else
            {
                if (kind == RESUME_MERGE)
                {
                    recipient.mergeWith(loaded, options.resumeChecksum);
                    run.holdWorkers(true);
                }
                else if (kind == UPDATE)
                {
                    // the copy is read while the master connects and the donor scans its own tree
                    recipient.expectUpdate();
                    run.readCopyMeanwhile(() ->
                    {
                        recipient.updateInPlace(options.resumeChecksum, options.coarseMtimes);
                        Trace.mark("update: the copy scanned");
                    });
                    run.holdWorkers(true);
                }
                // a whole fresh clone streams its manifest when the donor can (protocol 5): data flows while the donor
                // still scans; a fresh hash store needs the whole manifest before any data; a live clone's later
                // passes compare against the whole manifest of the first
                run.askForStream(kind == FRESH && STREAM && !options.keepHashes && passStage == Stage.FILE_COPY);
                master = new ClientTask(run, 0, CloneMode.START);
                if (kind == RESUME_MERGE || kind == UPDATE)
                {
                    master.metadataOnly();
                }
            }
            tasks.add(master);
            master.start(donor);
            boolean attached = false;
            // connections of this clone: --threads, or what the autotuner has decided so far
            final ConcurrencyTuner tuner = passStage != Stage.FREEZE && options.maxThreads > options.threads ?
                new ConcurrencyTuner(options.threads, options.maxThreads) : null;
            int connections = taskCount;
            // a pass that mostly compares (an update of changed large files) is paced by the donor reading and
            // hashing them, which connections beyond its loops cannot speed up: measured, the bench's update took
            // 3.1-3.8 s on 2 connections and 4.4-6.7 s when the tuner had doubled them to 4
            boolean comparing = false;
            while (true)
            {
                final FerryException failure = run.failure();
                if (failure != null)
                {
                    throw failure;
                }
                if (run.metadataOnlyComplete())
                {
                    // resume by manifest: the manifest is merged; ask for what is missing with a restart locator
                    Trace.mark("manifest merged");
                    final AppliedState merged = recipient.mergedApplied();
                    final long[] kept = recipient.keptCounts();
                    if (passStage == Stage.FILE_COPY)
                    {
                        // what the resume or update kept; a live clone's later passes keep what the last one copied
                        progress.onKept(kept[0], kept[1]);
                    }
                    progress.onEntriesDone(kept[0]);
                    // files the copy has in another version: hash their pieces, so only changed pieces travel
                    final HaveList have = recipient.hashHave(Math.max(1, Math.min(4,
                        Runtime.getRuntime().availableProcessors())), run.live() ? hashCache : null);
                    passHave = have;
                    final long[] stored = recipient.storeHits();
                    Trace.mark("the copy's pieces hashed: " + have.fileCount() + " files, " + have.bytesHashed() +
                        " bytes read (" + stored[0] + " files, " + stored[1] + " bytes, from the hash store)");
                    progress.onHashed(have.fileCount(), have.bytesHashed(), recipient.movedCount());
                    // hashes read from the store compare as much as hashes just computed: the donor reads them all
                    comparing = (have.bytesHashed() + have.bytesKnown()) * 2 >= progress.estimatedBytes();
                    run.pendingHave(have.isEmpty() ? null : have);
                    run.continueWith(merged);
                    run.holdWorkers(false);
                    for (final ClientTask t : tasks)
                    {
                        t.stop();
                    }
                    tasks.clear();
                    run.beginRestart();
                    final ClientTask resumed = new ClientTask(run, 0, CloneMode.RESTART);
                    tasks.add(resumed);
                    resumed.start(donor);
                    attached = false;
                    continue;
                }
                final long now0 = System.nanoTime();
                if (now0 >= nextCheckpoint)
                {
                    checkpoint(run, recipient);
                    nextCheckpoint = now0 + CHECKPOINT_NANOS;
                }
                final FerryException networkFailure = run.networkFailure();
                if (networkFailure != null)
                {
                    restart(run, tasks, networkFailure);
                    attached = false;
                    if (tuner != null)
                    {
                        tuner.onRestart(System.nanoTime());
                    }
                    continue;
                }
                if (run.locator() != null)
                {
                    progress.snapshotId(run.locator().snapshotId());
                }
                if (run.masterAccepted() && progress.snapshot().reconnecting())
                {
                    progress.onReconnected();
                }
                if (!attached && run.metadataDone() && run.masterAccepted())
                {
                    attached = true;
                    attachWorkers(run, tasks, 1, connections);
                    if (tuner != null)
                    {
                        tuner.onRestart(System.nanoTime()); // the baseline is measured once they all stream
                    }
                }
                else if (attached && tuner != null && !comparing && !tuner.stopped() && run.tasksComplete() == 0)
                {
                    // autotune: a worker more while the last one paid; it attaches mid-clone with COM_ATTACH and
                    // reserves chunks from the donor's queue like the others
                    final int wanted = tuner.onSample(System.nanoTime(),
                        progress.networkBytes() + progress.unchangedBytes());
                    if (wanted > connections)
                    {
                        attachWorkers(run, tasks, connections, wanted);
                        connections = wanted;
                        progress.threads(connections);
                    }
                }
                if (attached && run.tasksComplete() == connections)
                {
                    break;
                }
                final long now = System.nanoTime();
                if (now >= nextProgress)
                {
                    report(run);
                    nextProgress = now + TimeUnit.MILLISECONDS.toNanos(options.progressIntervalMs);
                }
                await(run, 50);
            }
            run.checkAllApplied();
            Trace.mark("every chunk applied");
            if (!lastPass(run, recipient, passStage))
            {
                // a live clone moves on to its next pass: what this one applied is made durable and journaled
                checkpoint(run, recipient);
                recipient.finishPassStore();
                hashCache.afterPass(passHave, recipient.entries(), recipient.haveWrites(), recipient.pieceSize());
                // the first pass copies everything: only a change pass measures how much is left to converge
                lastPassData = passStage == Stage.CHANGE_COPY ? progress.dataBytes() - dataAtStart : Long.MAX_VALUE;
                donorFreezes = run.donorFreezes();
                run.requestExit();
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (run.tasksFinished() < tasks.size() && System.nanoTime() < deadline)
                {
                    run.await(20);
                }
                return null;
            }
            if (passStage == Stage.FREEZE)
            {
                frozenNanos = run.frozenNanos();
                frozenBytes = progress.dataBytes() - dataAtStart;
            }
            unstableFiles = run.donorChanged();
            progress.stage(Stage.FILE_SYNC);
            report(run);
            recipient.applyEnd(run.locator(), 0, ErrorCode.OK);
            Trace.mark("FILE SYNC done");
            progress.warnings(recipient.warnings());
            run.requestExit();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (run.tasksFinished() < tasks.size() && System.nanoTime() < deadline)
            {
                run.await(20);
            }
            Trace.mark("connections closed");
            progress.stage(Stage.DONE);
            progress.finish();
            progress.onEntriesDone(progress.totalFiles()); // complete: every entry (the snapshot clamps to the total)
            options.onProgress.accept(progress.snapshot());
            return new CloneResult(run.locator().snapshotId(), progress.totalFiles(), progress.dataBytes(),
                progress.networkBytes(), progress.elapsedSeconds(), progress.restarts(), progress.holeBytes(),
                progress.warnings()).withDiff(new CloneResult.Diff(
                progress.keptFiles(), progress.keptBytes(), progress.comparedFiles(), progress.hashedBytes(),
                progress.unchangedBytes(), progress.movedFiles())).withLive(new CloneResult.Live(rounds,
                frozenNanos, frozenBytes, frozenNanos >= 0 ? 0 : unstableFiles, progress.tornBlocks()));
        }
        catch (final InterruptedException ex)
        {
            if (!cancelled)
            {
                Thread.currentThread().interrupt();
            }
            final FerryException f = new FerryException(ErrorCode.CANCELLED, cancelled ? "clone cancelled" :
                "clone interrupted", FileTreeRecipient.isIncomplete(target) ? "continue it with --resume" : "", null);
            run.fail(f);
            recipient.applyEnd(run.locator(), 0, f.code());
            writeStatus(run, f);
            throw f;
        }
        catch (final FerryException ex)
        {
            run.fail(ex);
            try
            {
                checkpoint(run, recipient);
            }
            catch (final FerryException ignore)
            {
                // keep the first failure; the journal holds the previous checkpoint
            }
            // tasks tell the donor with COM_EXIT carrying the error, so it releases the snapshot at once
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            while (run.tasksFinished() < tasks.size() && System.nanoTime() < deadline)
            {
                try
                {
                    await(run, 10);
                }
                catch (final InterruptedException ie)
                {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            stopAll(tasks, workerRunners);
            // the first failure is what the tasks told the donor: report that one, whichever thread saw it first
            final FerryException first = run.failure() != null ? run.failure() : ex;
            // whatever the code, a failure never runs FILE SYNC: .ferry/ and the journal stay
            recipient.applyEnd(run.locator(), 0, first.code() != ErrorCode.OK ? first.code() : ErrorCode.INTERNAL);
            writeStatus(run, first);
            throw first;
        }
        finally
        {
            progress.finish();
            stopAll(tasks, workerRunners);
            recipient.close();
        }
    }

    /**
     * Start worker tasks {@code from..to-1}, each on its own connection with COM_ATTACH; a connect failure is a
     * network failure of the clone (restart).
     */
    private void attachWorkers(final CloneRun run, final List<ClientTask> tasks, final int from, final int to)
    {
        for (int t = from; t < to; t++)
        {
            final ClientTask task = new ClientTask(run, t, CloneMode.ATTACH);
            tasks.add(task);
            try
            {
                task.start(donor);
            }
            catch (final FerryException ex)
            {
                run.onNetworkFailure(task, ex);
                break;
            }
        }
    }

    /**
     * The restart after a network failure, as the clone plugin does it: stop every task, let the apply workers
     * finish what they hold, fold it into the applied state, then reconnect with backoff and send COM_REINIT with a
     * restart locator; workers re-attach once the donor accepted it. Gives up when the restart window (the donor's,
     * unless the options say otherwise) has passed since the failure, or after too many restarts.
     */
    private void restart(final CloneRun run, final List<ClientTask> tasks, final FerryException cause)
        throws InterruptedException
    {
        backoff.onFailure(run.masterAccepted());
        progress.onRestart();
        if (cause.code() == ErrorCode.DONOR_SHUTDOWN && options.noWait)
        {
            throw new FerryException(cause.code(), cause.getMessage() + "; not waiting for it (--no-wait)",
                "start the donor again, then continue with --resume", null);
        }
        if (progress.restarts() > options.maxRestarts || run.locator() == null)
        {
            throw new FerryException(cause.code(), cause.getMessage() + "; gave up after " + (progress.restarts() - 1) +
                " restarts", "continue with --resume once the donor is reachable", null);
        }
        final long window0 = options.restartWindowMs >= 0 ? options.restartWindowMs :
            run.restartWindowMs() >= 0 ? run.restartWindowMs() : DonorService.Options.RESTART_WINDOW_DEFAULT_MS;
        int attempt = 1;
        progress.onReconnecting(attempt, cause, System.nanoTime() +
            TimeUnit.MILLISECONDS.toNanos(backoff.remainingMs(window0)));
        report(run);
        for (final ClientTask t : tasks)
        {
            t.stop();
        }
        while (!run.workersIdle())
        {
            if (run.failure() != null)
            {
                throw run.failure();
            }
            await(run, 1);
        }
        for (final ClientTask t : tasks)
        {
            t.absorbForRestart();
        }
        tasks.clear();
        run.beginRestart();
        final long window = options.restartWindowMs >= 0 ? options.restartWindowMs :
            run.restartWindowMs() >= 0 ? run.restartWindowMs() : DonorService.Options.RESTART_WINDOW_DEFAULT_MS;
        while (true)
        {
            final long waitMs = backoff.nextWaitMs();
            if (waitMs > 0)
            {
                if (!backoff.fits(waitMs, window))
                {
                    throw new FerryException(cause.code() == ErrorCode.DONOR_SHUTDOWN ? cause.code() :
                        ErrorCode.NETWORK, "the donor could not be reached again within the restart window of " +
                        window / 1000.0 + " s after: " + cause.getMessage(),
                        "continue with --resume once the donor runs", null);
                }
                final long wakeAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
                for (long left = waitMs; left > 0; left = TimeUnit.NANOSECONDS.toMillis(wakeAt - System.nanoTime()))
                {
                    await(run, Math.min(left, options.progressIntervalMs)); // backoff; wakes early to notice a failure
                    if (run.failure() != null)
                    {
                        throw run.failure();
                    }
                    report(run);
                }
                progress.onReconnecting(++attempt, cause, System.nanoTime() +
                    TimeUnit.MILLISECONDS.toNanos(backoff.remainingMs(window)));
            }
            final ClientTask master = new ClientTask(run, 0, CloneMode.RESTART);
            try
            {
                master.start(donor);
                tasks.add(master);
                return;
            }
            catch (final FerryException ex)
            {
                if (!ex.isRestartable())
                {
                    throw ex;
                }
            }
        }
    }

    private static final long CHECKPOINT_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * Record the applied state in the resume journal (after forcing the files it covers, when sync is on).
     */
    private static void checkpoint(final CloneRun run, final FileTreeRecipient recipient)
    {
        if (!run.metadataDone())
        {
            return;
        }
        final AppliedState state = run.applied();
        if (state != null && state.chunkCount() > 0)
        {
            recipient.checkpoint(state);
        }
    }

    private static long estimate(final dev.ferry.engine.layout.ChunkPlan plan)
    {
        long bytes = 0;
        for (int c = 0; c < plan.chunkCount(); c++)
        {
            bytes += plan.chunkBytes(c);
        }
        return bytes;
    }

    private final RestartBackoff backoff = new RestartBackoff(new org.agrona.concurrent.SystemNanoClock());

    /**
     * Stop every task and apply worker. The interrupt flag is cleared around it and restored after: Agrona's
     * {@code AgentRunner.close()} retries and prints to stderr when the closing thread is interrupted, and a library
     * prints nothing of its own.
     */
    private static void stopAll(final List<ClientTask> tasks, final List<AgentRunner> workerRunners)
    {
        final boolean interrupted = Thread.interrupted();
        try
        {
            for (final ClientTask t : tasks)
            {
                t.stop();
            }
            for (final AgentRunner r : workerRunners)
            {
                r.close();
            }
        }
        finally
        {
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Wait for clone events; a {@link #cancel()} ends the wait like an interrupt.
     */
    private void await(final CloneRun run, final long ms) throws InterruptedException
    {
        if (cancelled)
        {
            throw new InterruptedException();
        }
        run.await(ms);
        if (cancelled)
        {
            throw new InterruptedException();
        }
    }

    private long lastStatusNanos;

    /**
     * Hand a progress snapshot to the listener and rewrite {@code .ferry/status} (at most about once a second).
     */
    private void report(final CloneRun run)
    {
        final CloneProgress p = progress.snapshot();
        options.onProgress.accept(p);
        final long now = System.nanoTime();
        if (now - lastStatusNanos >= TimeUnit.MILLISECONDS.toNanos(500))
        {
            lastStatusNanos = now;
            StatusFile.write(target, donor, p, false);
        }
    }

    private void writeStatus(final CloneRun run, final FerryException failure)
    {
        progress.onFailure(failure);
        StatusFile.write(target, donor, progress.snapshot(), true);
    }

    private void checkAllowed()
    {
        if (options.allowDonors == null || options.allowDonors.isEmpty())
        {
            return;
        }
        for (final String entry : options.allowDonors)
        {
            final int colon = entry.lastIndexOf(':');
            if (colon <= 0)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "allowed donor '" + entry + "' is not HOST:PORT");
            }
            final String host = entry.substring(0, colon).replace("[", "").replace("]", "");
            final int port;
            try
            {
                port = Integer.parseInt(entry.substring(colon + 1));
            }
            catch (final NumberFormatException ex)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "allowed donor '" + entry + "' has no numeric port");
            }
            if (port != donor.getPort())
            {
                continue;
            }
            if (host.equalsIgnoreCase(donor.getHostString()))
            {
                return;
            }
            final InetSocketAddress resolved = new InetSocketAddress(host, port);
            if (!resolved.isUnresolved() && donor.getAddress() != null && resolved.getAddress().equals(donor.getAddress()))
            {
                return;
            }
        }
        throw new FerryException(ErrorCode.AUTH_FAILED, "donor " + donor.getHostString() + ":" + donor.getPort() +
            " is not on the allowed donor list " + options.allowDonors + "; nothing was sent to it");
    }

    /**
     * What can be refused without the lock is refused before it is taken, so that nothing in the target is touched:
     * a target another clone is writing, a non-empty target without {@code .ferry/} (a finished copy or someone
     * else's directory), an interrupted clone without {@code --resume}.
     */
    private void refuseBeforeLocking()
    {
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        TargetLock.refuseIfHeld(target);
        if (FileTreeRecipient.isIncomplete(target))
        {
            if (!options.resume && !options.update)
            {
                throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " holds an interrupted " +
                    "clone", "continue it with --resume, or choose an empty directory", null);
            }
            return;
        }
        if (!isEmptyDir(target, false) && !options.update)
        {
            throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " is not empty" +
                (options.resume ? " and holds no interrupted Ferry clone (no .ferry/ state) to resume" : ""),
                "choose an empty directory", null);
        }
    }

    private int checkTarget(final TargetLock lock)
    {
        if (lock == null)
        {
            throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " exists and is not a directory",
                "choose a directory that is absent or empty", null);
        }
        if (isEmptyDir(target, !lock.stateExisted()))
        {
            return FRESH;
        }
        final boolean incomplete = lock.stateExisted();
        if (options.update && !incomplete)
        {
            return UPDATE;
        }
        if (!options.resume && !options.update)
        {
            throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + (incomplete ?
                " holds an interrupted clone" : " is not empty"), incomplete ? "continue it with --resume, or " +
                "choose an empty directory" : "choose an empty directory", null);
        }
        if (!incomplete)
        {
            throw new FerryException(ErrorCode.TARGET_NOT_EMPTY, "target " + target + " is not empty and holds no " +
                "interrupted Ferry clone (no .ferry/ state) to resume", "choose an empty directory", null);
        }
        final RecipientJournal.Loaded loaded = RecipientJournal.load(target.resolve(ManifestScanner.STATE_DIR));
        return loaded == null ? RESUME_MERGE : RESUME_SAME;
    }

    /**
     * @param ignoreState true to count a {@code .ferry/} holding only the lock as absent (this run made it).
     */
    private static boolean isEmptyDir(final Path dir, final boolean ignoreState)
    {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir))
        {
            for (final Path p : s)
            {
                if (!ignoreState || !p.getFileName().toString().equals(ManifestScanner.STATE_DIR))
                {
                    return false;
                }
            }
            return true;
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot read target " + dir + ": " + ex.getMessage(), ex);
        }
    }
}
