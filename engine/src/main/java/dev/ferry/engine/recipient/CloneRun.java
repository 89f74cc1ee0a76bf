package dev.ferry.engine.recipient;

import dev.ferry.engine.SharedSecret;
import dev.ferry.engine.layout.ChunkPlan;

import java.util.Map;

import org.agrona.DirectBuffer;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.CloneProgress;
import dev.ferry.transport.TransportSettings;

/**
 * What the tasks of one client clone share: the recipient storage, the real locator, the apply workers, the
 * applied state, and the outcome. Tasks call in from their loop threads; the driver ({@link CloneClient}) waits on
 * it. Thread-safe (synchronized: none of this is on the per-block path).
 */
final class CloneRun
{
    private final CloneClient.Options options;
    private final FileTreeRecipient recipient;
    private final CloneProgress progress;
    private ApplyWorker[] workers;
    private volatile Locator locator;
    private volatile FerryException failure;
    private volatile FerryException networkFailure;
    private volatile boolean exitRequested;
    private volatile int generation;
    private boolean metadataDone;
    private boolean masterAccepted;
    private boolean metadataOnlyComplete;
    private volatile boolean holdWorkers;
    private int tasksComplete;
    private int tasksFinished;
    private AppliedState applied;
    private volatile ChunkPlan plan;
    private long restartWindowMs = -1;
    private final java.util.concurrent.atomic.AtomicLong offered = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong appliedBlocks = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong receivedBytes = new java.util.concurrent.atomic.AtomicLong();

    CloneRun(final CloneClient.Options options, final FileTreeRecipient recipient, final CloneProgress progress)
    {
        this.options = options;
        this.recipient = recipient;
        this.progress = progress;
    }

    void workers(final ApplyWorker[] w)
    {
        workers = w;
    }

    /**
     * The apply worker of a task: all blocks of a connection go to one worker, so every chunk (which one connection
     * sends) is applied in order, and two connections with two workers keep both busy whatever their chunk numbers.
     */
    ApplyWorker worker(final int task)
    {
        return workers[Math.floorMod(task, workers.length)];
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

    CloneProgress progress()
    {
        return progress;
    }

    Locator versionLocator()
    {
        final Locator v = recipient.applyBegin(CloneMode.VERSION, null);
        return Locator.version(v.engineId(), options.protocolMin(), options.protocolMax());
    }

    Locator locator()
    {
        return locator;
    }

    synchronized Locator restartLocator()
    {
        if (!metadataDone || applied == null)
        {
            return locator.restart(new AppliedState(0)).withStage(Stage.METADATA);
        }
        return locator.restart(applied.copy()).withStage(Stage.FILE_COPY);
    }

    synchronized void onLocator(final ClientTask task, final Locator real)
    {
        if (task.generation() != generation)
        {
            throw new FerryException(ErrorCode.CANCELLED, "superseded by a restart");
        }
        if (task.index() == 0 && locator == null)
        {
            recipient.applyBegin(CloneMode.START, real);
            locator = real;
            masterAccepted = true;
            notifyAll();
        }
        else if (task.index() == 0 && task.mode() == CloneMode.RESTART)
        {
            if (real.snapshotId() != locator.snapshotId())
            {
                throw new FerryException(ErrorCode.BAD_LOCATOR, "donor resumed a different snapshot");
            }
            recipient.applyBegin(CloneMode.RESTART, real);
            metadataDone = real.stage() >= Stage.FILE_COPY;
            if (!metadataDone)
            {
                applied = null;
            }
            masterAccepted = true;
            notifyAll();
        }
        else if (locator == null || real.snapshotId() != locator.snapshotId())
        {
            throw new FerryException(ErrorCode.BAD_LOCATOR, "donor attached task " + task.index() +
                " to a different snapshot");
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
        synchronized (this)
        {
            restartWindowMs = c.restartWindowMs;
        }
        recipient.layout(c.chunkSize, c.blockSize, c.filesPerChunk);
        return c.blockSize;
    }

    /**
     * Apply a STATE or FILE descriptor (master task's loop thread).
     */
    void applyMetadata(final DirectBuffer body, final int offset, final int length, final DescriptorFlyweight d)
    {
        recipient.apply(locator, 0, body, offset, length, null);
        if (d.type() == DescriptorFlyweight.TYPE_STATE)
        {
            if (d.stage() == Stage.METADATA)
            {
                progress.estimate(d.estimatedBytes(), d.fileCount());
                progress.stage(Stage.METADATA);
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
                progress.stage(Stage.FILE_COPY);
                synchronized (this)
                {
                    plan = p;
                    applied = new AppliedState(p.chunkCount());
                    metadataDone = true;
                    notifyAll();
                }
            }
        }
    }

    /**
     * A task's connection broke with a restartable (network) error. Only the first one per generation counts.
     */
    synchronized void onNetworkFailure(final ClientTask task, final FerryException ex)
    {
        if (task.generation() == generation && networkFailure == null && failure == null)
        {
            networkFailure = ex;
            notifyAll();
        }
    }

    FerryException networkFailure()
    {
        return networkFailure;
    }

    /**
     * Start a new generation of tasks after a network failure: forget per-generation progress.
     */
    synchronized void beginRestart()
    {
        generation++;
        networkFailure = null;
        masterAccepted = false;
        tasksComplete = 0;
        tasksFinished = 0;
    }

    int generation()
    {
        return generation;
    }

    synchronized boolean masterAccepted()
    {
        return masterAccepted && !holdWorkers;
    }

    void holdWorkers(final boolean v)
    {
        holdWorkers = v;
    }

    synchronized void onMetadataOnlyComplete(final ClientTask task)
    {
        if (task.generation() == generation)
        {
            metadataOnlyComplete = true;
            notifyAll();
        }
    }

    synchronized boolean metadataOnlyComplete()
    {
        return metadataOnlyComplete;
    }

    /**
     * Resume: start from a known snapshot and applied state instead of a COM_INIT.
     */
    synchronized void preset(final Locator real, final AppliedState state)
    {
        plan = recipient.plan();
        locator = real;
        applied = state;
        metadataDone = true;
        masterAccepted = false;
    }

    /**
     * Resume by manifest: the manifest is merged; continue with this applied state over a COM_REINIT.
     */
    synchronized void continueWith(final AppliedState state)
    {
        plan = recipient.plan();
        applied = state;
        metadataDone = true;
        metadataOnlyComplete = false;
    }

    boolean resumeChecksum()
    {
        return options.resumeChecksum();
    }

    SharedSecret secret()
    {
        return options.secret();
    }

    FileTreeRecipient recipient()
    {
        return recipient;
    }

    synchronized long restartWindowMs()
    {
        return restartWindowMs;
    }

    void onOffered(final int bytes)
    {
        offered.incrementAndGet();
        receivedBytes.addAndGet(bytes);
    }

    void onAppliedByWorker()
    {
        appliedBlocks.incrementAndGet();
    }

    /**
     * @return true when every block handed to an apply worker has been applied.
     */
    boolean workersIdle()
    {
        return appliedBlocks.get() == offered.get();
    }

    /**
     * @return false: checkpoints use the acknowledged state, which only holds blocks the workers finished.
     */
    boolean workersIdleUnknown()
    {
        return false;
    }

    long receivedBytes()
    {
        return receivedBytes.get();
    }

    synchronized void onAcknowledged(final int chunk, final int blocks, final boolean complete)
    {
        if (applied == null || chunk >= applied.chunkCount())
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "data for chunk " + chunk + " outside the announced " +
                (applied == null ? 0 : applied.chunkCount()) + " chunks");
        }
        applied.onApplied(chunk, blocks, complete);
    }

    /**
     * @return the chunk layout of the manifest received (null before it is complete).
     */
    ChunkPlan plan()
    {
        return plan;
    }

    /**
     * @return leading blocks of {@code chunk} already applied (where a resumed chunk starts).
     */
    synchronized int appliedBlocks(final int chunk)
    {
        return applied == null || applied.isComplete(chunk) ? 0 : applied.appliedBlocks(chunk);
    }

    /**
     * Before FILE SYNC: every chunk of the manifest must have been applied.
     */
    synchronized void checkAllApplied()
    {
        if (applied == null || !applied.allComplete())
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor completed with " +
                (applied == null ? "all" : String.valueOf(applied.chunkCount() - applied.completeCount())) +
                " chunks not applied; the copy is incomplete");
        }
    }

    synchronized AppliedState applied()
    {
        return applied == null ? null : applied.copy();
    }

    synchronized boolean metadataDone()
    {
        return metadataDone;
    }

    synchronized void onTaskComplete(final ClientTask task)
    {
        if (task.generation() != generation)
        {
            return;
        }
        tasksComplete++;
        notifyAll();
    }

    synchronized int tasksComplete()
    {
        return tasksComplete;
    }

    synchronized void onTaskFinished(final ClientTask task)
    {
        if (task.generation() != generation)
        {
            return;
        }
        tasksFinished++;
        notifyAll();
    }

    synchronized int tasksFinished()
    {
        return tasksFinished;
    }

    void onLoopError(final Throwable ex)
    {
        fail(ex instanceof FerryException ? (FerryException)ex :
            new FerryException(ErrorCode.INTERNAL, "client loop failed: " + ex, ex));
    }

    synchronized void fail(final FerryException ex)
    {
        if (failure == null)
        {
            // a failure always carries an error: code 0 would tell the donor, and FILE SYNC, that all is well
            failure = ex.code() != ErrorCode.OK ? ex :
                new FerryException(ErrorCode.INTERNAL, "a failure without an error code: " + ex.getMessage(), ex);
        }
        notifyAll();
    }

    FerryException failure()
    {
        return failure;
    }

    void requestExit()
    {
        exitRequested = true;
    }

    boolean exitRequested()
    {
        return exitRequested;
    }

    /**
     * Wait for a change (up to {@code ms}).
     */
    synchronized void await(final long ms) throws InterruptedException
    {
        wait(ms);
    }
}
