package dev.ferry.engine.recipient;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.Trace;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.ProgressCounters;
import dev.ferry.engine.SharedSecret;
import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.transport.TokenBucket;
import dev.ferry.transport.TransportSettings;

/**
 * The state of one client clone, with one owner: the driver thread (the thread in {@link CloneClient#run()}).
 * <p>
 * Tasks, each on its own loop thread, never change that state: they report what happened ({@link #onLocator},
 * {@link #onNetworkFailure}, {@link #onTaskComplete}, ...) as events on a lock-free many-to-one queue, which the
 * driver drains in {@link #await}; it is woken when an event arrives. What tasks read is published by the driver in
 * volatile fields before the tasks that read it are started: the generation (one per run of connections between
 * restarts), the real locator, and the acknowledged blocks of the generation. Two things are shared without going
 * through the driver, both lock-free and on purpose:
 * <ul>
 *   <li>the first failure, claimed once by whichever thread sees it first, so the donor (told in every task's
 *   COM_EXIT) and the caller hear the same story;</li>
 *   <li>{@link AckedBlocks}: each chunk is acknowledged by the one task that receives it.</li>
 * </ul>
 * Progress is read from the counters of {@link ProgressCounters}. No monitor, no lock.
 */
final class CloneRun
{
    /**
     * What a task reports to the driver. Immutable; a few per task and generation, never per block.
     */
    static final class Event
    {
        static final int LOCATOR = 1;
        static final int METADATA_DONE = 2;
        static final int NETWORK_FAILURE = 3;
        static final int METADATA_ONLY_COMPLETE = 4;
        static final int TASK_COMPLETE = 5;
        static final int TASK_FINISHED = 6;
        static final int CONFIG = 7;

        final int kind;
        final int generation;
        final int task;
        final long value;
        final Locator locator;
        final AckedBlocks acked;
        final FerryException error;

        Event(final int kind, final int generation, final int task, final long value)
        {
            this(kind, generation, task, value, null, null, null);
        }

        Event(final int kind, final int generation, final int task, final long value, final Locator locator,
            final AckedBlocks acked, final FerryException error)
        {
            this.kind = kind;
            this.generation = generation;
            this.task = task;
            this.value = value;
            this.locator = locator;
            this.acked = acked;
            this.error = error;
        }
    }

    private final CloneClient.Options options;
    private final FileTreeRecipient recipient;
    private final ProgressCounters progress;
    private final ManyToOneConcurrentLinkedQueue<Event> events = new ManyToOneConcurrentLinkedQueue<>();
    private final AtomicReference<FerryException> failure = new AtomicReference<>();
    private final AtomicLong offered = new AtomicLong();
    private final AtomicLong appliedBlocks = new AtomicLong();
    private ApplyWorker[] workers;
    private volatile Thread driver;

    // published by the driver, read by tasks
    private volatile int generation;
    private volatile Locator locator;
    private volatile AckedBlocks acked;
    private volatile boolean exitRequested;

    // the driver's alone
    private boolean metadataDone;
    /** This run asked for a streamed manifest in COM_INIT ({@link #askForStream}). */
    private boolean streamAsked;
    private boolean masterAccepted;
    private boolean metadataOnlyComplete;
    private volatile HaveList pendingHave;
    private volatile int passStage = Stage.FILE_COPY;
    private final java.util.concurrent.atomic.AtomicLong donorChanged = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong frozenNanos0 = new java.util.concurrent.atomic.AtomicLong();
    private boolean holdWorkers;
    private int tasksComplete;
    private int tasksFinished;
    private FerryException networkFailure;
    private long restartWindowMs = -1;
    /** Master task's loop thread: the entries without data were counted (once per clone, not per restart). */
    private boolean entriesCounted;

    private TokenBucket throttle;

    CloneRun(final CloneClient.Options options, final FileTreeRecipient recipient, final ProgressCounters progress)
    {
        this.options = options;
        this.recipient = recipient;
        this.progress = progress;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // set-up and configuration (any thread)

    void workers(final ApplyWorker[] w)
    {
        workers = w;
    }

    /**
     * @return the COM_EXECUTE flags of a clone's data: LIVE unless strict, and compression at the level asked for.
     */
    int executeFlags()
    {
        final int level = options.compressLevel();
        return (live() ? dev.ferry.core.protocol.ExecuteFlags.LIVE : 0) |
            (level == 0 ? 0 : dev.ferry.core.protocol.ExecuteFlags.compress(level));
    }

    /**
     * The apply worker of a task: all blocks of a connection go to one worker, so every chunk (which one connection
     * sends) is applied in order, and two connections with two workers keep both busy whatever their chunk numbers.
     */
    ApplyWorker worker(final int task)
    {
        return workers[Math.floorMod(task, workers.length)];
    }

    /**
     * The clone's rate limit, shared by every task's connection; set once by the driver thread before any task starts.
     */
    void throttle(final TokenBucket bucket)
    {
        throttle = bucket;
    }

    TokenBucket throttle()
    {
        return throttle;
    }

    TransportSettings transport()
    {
        return options.transport();
    }

    CloneSettings settings()
    {
        return options.settings();
    }

    int protocolMin()
    {
        return options.protocolMin();
    }

    int protocolMax()
    {
        return options.protocolMax();
    }

    int poolBuffers()
    {
        return options.poolBuffers();
    }

    /**
     * What the copy has, for the master task of the next restart to send before its COM_REINIT (null: nothing to
     * send). Set by the driver before it starts that task.
     */
    void pendingHave(final HaveList have)
    {
        pendingHave = have;
    }

    HaveList pendingHave()
    {
        return pendingHave;
    }

    /**
     * The donor accepted the restart that carried {@code have}: later restarts of the same snapshot need not send it.
     */
    void haveDelivered(final HaveList have)
    {
        if (pendingHave == have)
        {
            pendingHave = null;
        }
    }

    SharedSecret secret()
    {
        return options.secret();
    }

    ProgressCounters progress()
    {
        return progress;
    }

    FileTreeRecipient recipient()
    {
        return recipient;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // published state, read by tasks

    int generation()
    {
        return generation;
    }

    Locator locator()
    {
        return locator;
    }

    /**
     * @return the acknowledged blocks of this generation, or null before the manifest is complete.
     */
    /**
     * @return whether a streamed manifest is still arriving.
     */
    boolean manifestStreaming()
    {
        return recipient.manifestStreaming();
    }

    AckedBlocks acked()
    {
        return acked;
    }

    boolean exitRequested()
    {
        return exitRequested;
    }

    FerryException failure()
    {
        return failure.get();
    }

    /**
     * The first failure of the clone wins; later ones are dropped. Any thread.
     */
    void fail(final FerryException ex)
    {
        // a failure always carries an error: code 0 would tell the donor, and FILE SYNC, that all is well
        failure.compareAndSet(null, ex.code() != ErrorCode.OK ? ex :
            new FerryException(ErrorCode.INTERNAL, "a failure without an error code: " + ex.getMessage(), ex));
        wakeDriver();
    }

    /**
     * What a client loop or an apply worker threw out of its duty cycle (its runner's error handler). Must not throw,
     * even out of heap: an Error here once left the loop thread dead and the clone hung (issue 10).
     */
    void onLoopError(final Throwable ex)
    {
        fail(dev.ferry.engine.FatalErrors.fatal(ex, "client loop failed"));
    }

    void onOffered(final int bytes)
    {
        offered.incrementAndGet();
    }

    void onAppliedByWorker()
    {
        appliedBlocks.incrementAndGet();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // what tasks report (their loop threads)

    private void post(final Event e)
    {
        events.offer(e);
        wakeDriver();
    }

    private void wakeDriver()
    {
        final Thread t = driver;
        if (t != null)
        {
            LockSupport.unpark(t);
        }
    }

    /**
     * The donor answered a task's COM_INIT / COM_ATTACH / COM_REINIT with {@code real}. Checked here, on the task's
     * thread, against what the driver published; the master task then begins the recipient storage in that mode
     * (until the manifest is complete, the recipient's metadata belongs to the master's thread).
     */
    void onLocator(final ClientTask task, final Locator real)
    {
        if (task.generation() != generation)
        {
            throw new FerryException(ErrorCode.CANCELLED, "superseded by a restart");
        }
        final Locator current = locator;
        if (task.index() == 0 && task.mode() == CloneMode.START)
        {
            recipient.streamedManifest(streamAsked && real.protocol() >= dev.ferry.core.protocol.Wire.STREAM_PROTOCOL);
            recipient.applyBegin(CloneMode.START, real);
        }
        else if (task.index() == 0 && task.mode() == CloneMode.RESTART)
        {
            if (current == null || real.snapshotId() != current.snapshotId())
            {
                throw new FerryException(ErrorCode.BAD_LOCATOR, "donor resumed a different snapshot");
            }
            recipient.applyBegin(CloneMode.RESTART, real);
        }
        else if (current == null || real.snapshotId() != current.snapshotId())
        {
            throw new FerryException(ErrorCode.BAD_LOCATOR, "donor attached task " + task.index() +
                " to a different snapshot");
        }
        if (task.index() == 0)
        {
            post(new Event(Event.LOCATOR, task.generation(), 0, task.mode().ordinal(), real, null, null));
        }
    }

    /**
     * Check the donor's COM_RES_CONFIG before any data moves.
     *
     * @return the block size.
     */
    int validateConfig(final Map<String, String> config)
    {
        final DonorConfig c = DonorConfig.check(config, options.requireChecksum(),
            Math.min(options.settings().maxFrameLength(), options.transport().maxFrameLength()));
        post(new Event(Event.CONFIG, generation, 0, c.restartWindowMs));
        recipient.layout(c.chunkSize, c.blockSize, c.filesPerChunk);
        donorFreezes = "1".equals(config.get("freeze"));
        return c.blockSize;
    }

    /**
     * @return whether the donor has a freeze hook (COM_RES_CONFIG {@code freeze=1}): a live clone ends in FREEZE.
     */
    boolean donorFreezes()
    {
        return donorFreezes;
    }

    private volatile boolean donorFreezes;

    /**
     * Apply a STATE or FILE descriptor (master task's loop thread).
     *
     * @return the acknowledged blocks of the new chunk layout when this descriptor completed the manifest, else null.
     */
    AckedBlocks applyMetadata(final ClientTask task, final Locator real, final DirectBuffer body, final int offset,
        final int length, final DescriptorFlyweight d)
    {
        recipient.apply(real, 0, body, offset, length, null);
        if (d.type() == DescriptorFlyweight.TYPE_STATE)
        {
            if (d.stage() == Stage.METADATA)
            {
                progress.estimate(d.estimatedBytes(), d.fileCount());
                progress.stage(Stage.METADATA);
                final ChunkPlan streamed = recipient.streamPlan();
                if (streamed != null)
                {
                    // a streamed manifest: data of closed chunks comes with it, acknowledged on this connection
                    return AckedBlocks.growing(streamed);
                }
            }
            else if (d.stage() == Stage.FILE_COPY)
            {
                // the chunk layout is rebuilt from the manifest received; the donor's announced count must agree
                final ChunkPlan p = recipient.plan();
                if (p == null || p.chunkCount() != d.chunkCount())
                {
                    throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor announced " + d.chunkCount() +
                        " chunks but its manifest lays out " + (p == null ? "none" : String.valueOf(p.chunkCount())));
                }
                progress.stage(passStage);
                if (!entriesCounted)
                {
                    entriesCounted = true; // directories, symlinks, empty files: complete once created
                    progress.onEntriesDone(Math.max(0, recipient.entryCount() - ClientTask.filesWithData(p)));
                }
                Trace.mark("manifest applied on the master's connection");
                final AckedBlocks streamedAcks = task.acked();
                final AckedBlocks a;
                if (streamedAcks != null && streamedAcks.plan() == p)
                {
                    // what was applied while the manifest streamed stays applied
                    streamedAcks.complete();
                    progress.estimate(d.estimatedBytes(), d.fileCount());
                    a = streamedAcks;
                }
                else
                {
                    a = new AckedBlocks(p, null);
                }
                post(new Event(Event.METADATA_DONE, task.generation(), 0, 0, null, a, null));
                return a;
            }
        }
        return null;
    }

    /**
     * A task's connection broke with a restartable (network) error. Only the first one per generation counts.
     */
    void onNetworkFailure(final ClientTask task, final FerryException ex)
    {
        post(new Event(Event.NETWORK_FAILURE, task.generation(), task.index(), 0, null, null, ex));
    }

    void onMetadataOnlyComplete(final ClientTask task)
    {
        post(new Event(Event.METADATA_ONLY_COMPLETE, task.generation(), task.index(), 0));
    }

    void onTaskComplete(final ClientTask task)
    {
        post(new Event(Event.TASK_COMPLETE, task.generation(), task.index(), 0));
    }

    void onTaskFinished(final ClientTask task)
    {
        post(new Event(Event.TASK_FINISHED, task.generation(), task.index(), 0));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the driver thread

    /**
     * Wait up to {@code ms} for an event, then apply every event queued. Driver thread.
     */
    void await(final long ms) throws InterruptedException
    {
        driver = Thread.currentThread();
        if (events.isEmpty())
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(ms));
        }
        if (Thread.interrupted())
        {
            throw new InterruptedException();
        }
        drain();
    }

    private void drain()
    {
        Event e;
        while ((e = events.poll()) != null)
        {
            if (e.kind == Event.CONFIG)
            {
                restartWindowMs = e.value;
                continue;
            }
            if (e.generation != generation)
            {
                continue; // a task of a generation that a restart ended
            }
            switch (e.kind)
            {
                case Event.LOCATOR:
                    if (locator == null)
                    {
                        locator = e.locator;
                    }
                    else if (e.value == CloneMode.RESTART.ordinal() && e.locator.stage() < Stage.FILE_COPY)
                    {
                        metadataDone = false; // the manifest was cut short: the donor sends it again
                        acked = null;
                    }
                    masterAccepted = true;
                    Trace.mark("COM_RES_LOCS: the donor's snapshot is ready");
                    break;
                case Event.METADATA_DONE:
                    acked = e.acked;
                    metadataDone = true;
                    Trace.mark("manifest received");
                    break;
                case Event.NETWORK_FAILURE:
                    if (networkFailure == null && failure.get() == null)
                    {
                        networkFailure = e.error;
                    }
                    break;
                case Event.METADATA_ONLY_COMPLETE:
                    metadataOnlyComplete = true;
                    break;
                case Event.TASK_COMPLETE:
                    tasksComplete++;
                    Trace.mark("COM_RES_COMPLETE on a connection");
                    break;
                case Event.TASK_FINISHED:
                    tasksFinished++;
                    break;
                default:
                    throw new FerryException(ErrorCode.INTERNAL, "unknown clone event " + e.kind);
            }
        }
    }

    Locator versionLocator()
    {
        final Locator v = recipient.applyBegin(CloneMode.VERSION, null);
        final Locator l = Locator.version(v.engineId(), options.protocolMin(), options.protocolMax());
        if (passStage == Stage.FILE_COPY && streamAsked)
        {
            return l.withStage(Stage.METADATA); // stream the manifest, if the donor speaks protocol 5 (PROTOCOL.md 6.5)
        }
        return passStage == Stage.FILE_COPY ? l : l.withStage(passStage); // CHANGE_COPY, or FREEZE: freeze first
    }

    /**
     * Ask the donor to stream the manifest (a whole fresh clone's first pass: no resume, update or hash store). Driver,
     * before any task.
     */
    void askForStream(final boolean on)
    {
        streamAsked = on && options.protocolMax() >= dev.ferry.core.protocol.Wire.STREAM_PROTOCOL;
    }

    /**
     * Which pass of a live clone this run is: FILE_COPY (the first), CHANGE_COPY or FREEZE. Driver, before any task.
     */
    void passStage(final int stage)
    {
        passStage = stage;
    }

    int passStage()
    {
        return passStage;
    }

    /**
     * A task's COM_RES_COMPLETE: files the donor found changed under its reads, and how long the dataset was frozen.
     * Any task's loop thread.
     */
    void onDonorComplete(final long changed, final long frozenNanos)
    {
        donorChanged.addAndGet(changed);
        frozenNanos0.accumulateAndGet(frozenNanos, Math::max);
    }

    long donorChanged()
    {
        return donorChanged.get();
    }

    private final java.util.concurrent.atomic.AtomicLong tornBlocks = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @return whether a block that fails its CRC32C may be taken as torn (the donor read it while it was written)
     * rather than corrupt: only in a live clone's passes before the last one can be chosen, which compare its file
     * again. A strict clone and a frozen pass restart and have it sent again.
     */
    boolean tornBlocksAllowed()
    {
        return live() && passStage != dev.ferry.core.spi.Stage.FREEZE;
    }

    /**
     * A torn block of file {@code index} (see {@link #tornBlocksAllowed}): journaled, so the next pass compares the
     * file, and counted, so this pass is not the last. Any task's loop thread.
     */
    void onTornBlock(final int index)
    {
        recipient.journal().markTorn(index);
        tornBlocks.incrementAndGet();
        progress.onTornBlock();
    }

    long tornBlocks()
    {
        return tornBlocks.get();
    }

    long frozenNanos()
    {
        return frozenNanos0.get();
    }

    /**
     * @return whether COM_EXECUTE asks for a live copy (changes under the read are counted, not fatal).
     */
    boolean live()
    {
        return !options.strict();
    }

    /**
     * @return the COM_REINIT locator for the next generation: the applied state, or the metadata stage when the
     * manifest was not complete.
     */
    Locator restartLocator()
    {
        final AckedBlocks a = acked;
        if (!metadataDone || a == null)
        {
            return locator.restart(new AppliedState(0)).withStage(Stage.METADATA);
        }
        return locator.restart(a.snapshot()).withStage(Stage.FILE_COPY);
    }

    FerryException networkFailure()
    {
        return networkFailure;
    }

    /**
     * Start a new generation of tasks after a network failure: forget per-generation progress, carry the applied
     * state over.
     */
    void beginRestart()
    {
        final AckedBlocks a = acked;
        if (a != null)
        {
            acked = new AckedBlocks(a.plan(), a.snapshot());
        }
        generation++;
        networkFailure = null;
        masterAccepted = false;
        tasksComplete = 0;
        tasksFinished = 0;
    }

    boolean masterAccepted()
    {
        return masterAccepted && !holdWorkers;
    }

    void holdWorkers(final boolean v)
    {
        holdWorkers = v;
    }

    /** The copy an update reads before it can merge the donor's manifest: 0 being read, 1 read, 2 failed. */
    private volatile int copyState = 1;

    /**
     * An update: read the copy ({@code scan}, on a thread of its own) while the master connects and the donor scans
     * its tree; the master asks for the manifest ({@code COM_EXECUTE}) only once the copy is read
     * ({@link #copyReady}), so the donor's scan and the copy's overlap and no frame waits unread meanwhile. Driver.
     */
    void readCopyMeanwhile(final Runnable scan)
    {
        copyState = 0;
        final Thread t = new Thread(() ->
        {
            try
            {
                scan.run();
                copyState = 1;
            }
            catch (final FerryException ex)
            {
                fail(ex);
                copyState = 2;
            }
            catch (final RuntimeException | Error ex)
            {
                fail(dev.ferry.engine.FatalErrors.fatal(ex, "reading the copy failed"));
                copyState = 2;
            }
        }, "ferry-copy-scan");
        t.setDaemon(true);
        t.start();
    }

    /**
     * @return whether the copy an update reads meanwhile is read (always, for anything but an update); a failure of
     *     that read is the clone's failure ({@link #failure}).
     */
    boolean copyReady()
    {
        return copyState == 1;
    }

    /**
     * @return for an update whose copy has been read: the newer-than of COM_EXECUTE's HASH_AHEAD (the newest mtime
     *     among the copy's regular files; Long.MIN_VALUE with --checksum), else {@link FileTreeRecipient#NO_HINT}.
     */
    long hashAheadHint()
    {
        return copyState == 1 ? recipient.hashAheadHint() : FileTreeRecipient.NO_HINT;
    }

    boolean metadataOnlyComplete()
    {
        return metadataOnlyComplete;
    }

    /**
     * Resume: start from a known snapshot and applied state instead of a COM_INIT.
     */
    void preset(final Locator real, final AppliedState state)
    {
        locator = real;
        acked = new AckedBlocks(recipient.plan(), state);
        metadataDone = true;
        masterAccepted = false;
    }

    /**
     * Resume by manifest: the manifest is merged; continue with this applied state over a COM_REINIT.
     */
    void continueWith(final AppliedState state)
    {
        acked = new AckedBlocks(recipient.plan(), state);
        metadataDone = true;
        metadataOnlyComplete = false;
    }

    long restartWindowMs()
    {
        return restartWindowMs;
    }

    /**
     * @return true when every block handed to an apply worker has been applied.
     */
    boolean workersIdle()
    {
        return appliedBlocks.get() == offered.get();
    }

    /**
     * Before FILE SYNC: every chunk of the manifest must have been applied.
     */
    void checkAllApplied()
    {
        final AckedBlocks a = acked;
        final int missing = a == null ? -1 : a.incompleteCount();
        if (missing != 0)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor completed with " +
                (missing < 0 ? "all" : String.valueOf(missing)) + " chunks not applied; the copy is incomplete");
        }
    }

    /**
     * @return a copy of the applied state, or null before the manifest is complete.
     */
    AppliedState applied()
    {
        final AckedBlocks a = acked;
        return a == null ? null : a.snapshot();
    }

    boolean metadataDone()
    {
        return metadataDone;
    }

    int tasksComplete()
    {
        return tasksComplete;
    }

    int tasksFinished()
    {
        return tasksFinished;
    }

    void requestExit()
    {
        exitRequested = true;
    }
}
