package dev.ferry.core.spi;

/**
 * The donor half of the storage SPI, mirroring the clone handlerton: {@code begin}, {@code copy}, {@code ack},
 * {@code end}. One instance serves one clone (one snapshot); a donor service holds one per running clone.
 * <p>
 * Thread model: {@code begin} and {@code end} may be called from any thread; {@code copy} and {@code ack} for one
 * task are called from one thread at a time, and different tasks may run concurrently.
 */
public interface DonorStorage extends AutoCloseable
{
    /** {@link #copy} offered all it could; call again when the callback can take more. */
    int COPY_MORE = 1;
    /** {@link #copy} finished: this task has nothing left to send in this stage. */
    int COPY_DONE = 2;

    /**
     * Begin a task.
     *
     * @param mode    {@link CloneMode#START}: negotiate from a version locator and take the snapshot;
     *                {@link CloneMode#ATTACH}: add a task to the clone of a real locator;
     *                {@link CloneMode#RESTART}: resume from a restart locator's applied state.
     * @param locator what the recipient sent.
     * @return the real locator for the task.
     * @throws dev.ferry.core.protocol.FerryException with a code such as VERSION_MISMATCH or UNKNOWN_SNAPSHOT.
     */
    Locator begin(CloneMode mode, Locator locator);

    /**
     * Offer the next items of the task to the callback, until it refuses one, a bounded amount has been offered,
     * or the task has nothing left.
     *
     * @return {@link #COPY_MORE} or {@link #COPY_DONE}.
     * @throws dev.ferry.core.protocol.FerryException if a file changed or cannot be read.
     */
    int copy(Locator locator, int task, CopyCallback callback);

    /**
     * What the task is to send, from COM_EXECUTE's flags ({@code dev.ferry.core.protocol.ExecuteFlags}): 0 for the
     * whole clone, or the manifest only, or block checksums instead of bytes. Called once, before the first
     * {@link #copy} of the task.
     */
    void execute(Locator locator, int task, int flags);

    /**
     * A hint that came with a manifest-only COM_EXECUTE (protocol 4, {@code ExecuteFlags.HASH_AHEAD}): the recipient
     * will compare piece by piece the regular files whose mtime is later than {@code newerThanNanos} (ns since the
     * epoch; {@code Long.MIN_VALUE}: every file), so the engine may read and hash them while the recipient merges
     * the manifest. What the clone sends must not depend on it. By default ignored.
     */
    default void hashAhead(Locator locator, long newerThanNanos)
    {
    }

    /**
     * Record that the recipient applied the first {@code appliedBlocks} blocks of {@code chunk}: the donor's own
     * view of the clone's progress ({@link #acknowledgedBytes}), which a restart must not undercut.
     */
    void ack(Locator locator, int task, int chunk, int appliedBlocks, boolean chunkComplete);

    /**
     * @return data bytes the recipient has acknowledged as applied (complete chunks and applied prefixes). Any
     * thread.
     */
    long acknowledgedBytes();

    /**
     * End a task. With {@code error == 0} on the master task after every task completed, the snapshot is released;
     * with a restartable error, it is kept for the restart window.
     */
    void end(Locator locator, int task, int error);

    /**
     * Release every resource the clone holds.
     */
    @Override
    void close();
}
