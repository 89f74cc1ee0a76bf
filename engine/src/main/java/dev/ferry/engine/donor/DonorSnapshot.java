package dev.ferry.engine.donor;

import java.util.ArrayList;
import java.util.List;

import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.DonorStorage;
import dev.ferry.core.spi.Locator;
import dev.ferry.transport.TokenBucket;

/**
 * One clone a donor serves: its storage (the snapshot) and which live session serves each task. Kept after a network
 * failure until the restart window runs out.
 * <p>
 * Ownership: a task (its cursor, file channel and memory map) belongs to exactly one live session, and only that
 * session's loop thread touches it. A session that wants a task another live session holds does not take it: it asks
 * the holder to close ({@link DonorSession#supersede()}, run on the holder's own loop thread, which ends its cursor
 * there) and claims the task once the holder has released it. The storage is closed exactly once, by whoever
 * releases the last session of a finished snapshot (or by the expiry when no session is left), so no thread can use
 * a cursor that another thread closed.
 * <p>
 * Thread-safe: the owner table is guarded by this object's monitor (attach, release and expiry only, never the
 * per-block path).
 */
final class DonorSnapshot
{
    final DonorStorage storage;
    final Locator locator;
    /** The clone's rate limit, shared by all its sessions' connections. */
    final TokenBucket throttle;
    private final DonorSession[] owners = new DonorSession[LocatorCodec.MAX_TASKS];
    private int sessions;
    private boolean finished;
    private boolean closed;
    private long idleSinceNanos = System.nanoTime();
    /** For the donor's log line: when the clone began, for whom, how much it sent; whether its end was logged. */
    final long startNanos = System.nanoTime();
    final java.util.concurrent.atomic.AtomicLong bytesSent = new java.util.concurrent.atomic.AtomicLong();
    final java.util.concurrent.atomic.AtomicBoolean endLogged = new java.util.concurrent.atomic.AtomicBoolean();
    volatile String client = "?";
    /** Taken inside the donor's freeze hook (a live clone's FREEZE pass): thawed once, see {@link FreezeHooks}. */
    volatile FreezeHooks.Frozen frozen;
    /**
     * Sessions of a frozen pass that are reading its data: the dataset is thawed when the last of them has read its
     * last byte (each starts reading before it reserves a chunk, so none is left unread when this reaches zero).
     */
    final java.util.concurrent.atomic.AtomicInteger frozenReaders = new java.util.concurrent.atomic.AtomicInteger();

    /** Where a frozen pass's time goes, logged at its thaw: see {@link #markFrozen}. */
    static final int FROZEN_SCANNED = 0;
    static final int FROZEN_MANIFEST_SENT = 1;
    static final int FROZEN_FIRST_HAVE = 2;
    static final int FROZEN_RESTARTED = 3;
    static final int FROZEN_MARKS = 4;
    private final java.util.concurrent.atomic.AtomicLongArray frozenMarks =
        new java.util.concurrent.atomic.AtomicLongArray(FROZEN_MARKS);

    /**
     * Note that a frozen pass reached {@code mark} at {@code nanos} (the first time only). Any thread.
     */
    void markFrozen(final int mark, final long nanos)
    {
        if (frozen != null)
        {
            frozenMarks.compareAndSet(mark, 0, nanos);
        }
    }

    /**
     * @return for the log: how long after the freeze hook finished each mark was reached, in ms.
     */
    String frozenTimeline()
    {
        final FreezeHooks.Frozen f = frozen;
        if (f == null || f.heldSince == 0)
        {
            return "";
        }
        final String[] names = { "scanned", "manifest sent", "first COM_HAVE", "restarted with what the client has" };
        final StringBuilder b = new StringBuilder();
        for (int i = 0; i < FROZEN_MARKS; i++)
        {
            final long at = frozenMarks.get(i);
            if (at != 0)
            {
                b.append(b.length() == 0 ? "" : ", ").append(names[i]).append(" at ")
                    .append((at - f.heldSince) / 1_000_000).append(" ms");
            }
        }
        return b.toString();
    }

    /**
     * @param creator the session whose COM_INIT took the snapshot: it holds task 0 from the start, so a new snapshot
     *                never looks idle before its session has it.
     */
    DonorSnapshot(final DonorStorage storage, final Locator locator, final DonorSession creator, final TokenBucket throttle)
    {
        this.storage = storage;
        this.locator = locator;
        this.throttle = throttle;
        owners[0] = creator;
        sessions = 1;
    }

    long snapshotId()
    {
        return locator.snapshotId();
    }

    /**
     * Claim {@code task} for {@code session}; with {@code everyTask} (COM_REINIT: the chunk queue is rebuilt) the
     * claim needs every other session of this snapshot gone.
     *
     * @return the live sessions that must close first (empty: the claim succeeded), or null if the snapshot is
     * finished.
     */
    synchronized List<DonorSession> claim(final DonorSession session, final int task, final boolean everyTask)
    {
        if (finished)
        {
            return null;
        }
        final List<DonorSession> holders = new ArrayList<>(0);
        for (int i = 0; i < owners.length; i++)
        {
            final DonorSession o = owners[i];
            if (o != null && o != session && (everyTask || i == task))
            {
                holders.add(o);
            }
        }
        if (!holders.isEmpty())
        {
            return holders;
        }
        if (!holds(session))
        {
            sessions++;
        }
        owners[task] = session;
        return holders;
    }

    private boolean holds(final DonorSession session)
    {
        for (final DonorSession o : owners)
        {
            if (o == session)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code session} has ended its cursor and closed.
     *
     * @return true if the caller must now close the storage (finished, and this was the last session).
     */
    synchronized boolean release(final DonorSession session)
    {
        boolean held = false;
        for (int i = 0; i < owners.length; i++)
        {
            if (owners[i] == session)
            {
                owners[i] = null;
                held = true;
            }
        }
        if (held)
        {
            sessions--;
            idleSinceNanos = System.nanoTime();
        }
        return closeIfUnused();
    }

    /**
     * No more sessions may join (the clone ended or failed for good).
     *
     * @return true if the caller must now close the storage (no session left).
     */
    synchronized boolean finish()
    {
        finished = true;
        return closeIfUnused();
    }

    /**
     * @return true if no session served this snapshot for {@code windowNanos}; it is then finished, and the caller
     * closes the storage.
     */
    synchronized boolean expire(final long nowNanos, final long windowNanos)
    {
        if (sessions == 0 && !finished && nowNanos - idleSinceNanos > windowNanos)
        {
            finished = true;
            return closeIfUnused();
        }
        return false;
    }

    private boolean closeIfUnused()
    {
        if (finished && sessions == 0 && !closed)
        {
            closed = true;
            return true;
        }
        return false;
    }

    /**
     * @return the live sessions (to tell them the donor shuts down).
     */
    synchronized List<DonorSession> sessions()
    {
        final List<DonorSession> all = new ArrayList<>();
        for (final DonorSession o : owners)
        {
            if (o != null && !all.contains(o))
            {
                all.add(o);
            }
        }
        return all;
    }

    /**
     * @return true if no session has served this snapshot for more than {@code graceNanos} and it is not finished:
     * its slot may go to another clone.
     */
    synchronized boolean idleLongerThan(final long nowNanos, final long graceNanos)
    {
        return sessions == 0 && !finished && nowNanos - idleSinceNanos > graceNanos;
    }

    synchronized long idleSinceNanos()
    {
        return idleSinceNanos;
    }

    synchronized boolean isFinished()
    {
        return finished;
    }

    synchronized int sessionCount()
    {
        return sessions;
    }
}
