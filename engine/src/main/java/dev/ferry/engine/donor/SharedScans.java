package dev.ferry.engine.donor;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.layout.ChunkPlan;
import dev.ferry.engine.layout.Manifest;

/**
 * The donor's scans of its tree, shared by clones whose snapshots overlap: a clone that begins while another clone's
 * scan is running waits for that scan and takes its manifest and chunk plan instead of walking the tree again. Eight
 * recipients started together cost one scan, not eight competing for the same disk and cores.
 * <p>
 * Only a scan in progress is joined, never a finished one: a joiner's snapshot was taken no earlier than a scan of its
 * own would have begun minus one scan's length, and the tree is never held still for a plain clone anyway (a file that
 * changes after its entry was scanned is caught when it is read, as for any clone). A live clone's frozen pass never
 * shares: its scan must happen inside its own freeze. The manifest and plan are immutable once built, and each clone
 * keeps its own chunk queue and applied state.
 * <p>
 * Thread-safe: the scan in progress is guarded by this object's monitor; the scan itself runs outside it, on the
 * scan thread of the clone that started it.
 */
final class SharedScans
{
    /** What a scan produced, for every clone that shares it. */
    static final class Scan
    {
        final Manifest manifest;
        final ChunkPlan plan;

        Scan(final Manifest manifest, final ChunkPlan plan)
        {
            this.manifest = manifest;
            this.plan = plan;
        }
    }

    private CompletableFuture<Scan> running;
    /**
     * The last streamed scan (PROTOCOL.md 6.5), weakly: the snapshots that stream it hold it, and once they are gone
     * its manifest's pages must not stay for the sake of a scan nobody can join any more.
     */
    private java.lang.ref.WeakReference<StreamedScan> streaming = new java.lang.ref.WeakReference<>(null);
    private long scans;
    private long joined;

    /**
     * @param scanner walks the tree and plans its chunks, on this thread, when no scan is running.
     * @return the running scan's result if one was in progress, else what {@code scanner} made.
     */
    Scan scan(final Supplier<Scan> scanner)
    {
        final CompletableFuture<Scan> mine;
        final boolean owner;
        synchronized (this)
        {
            owner = running == null;
            if (owner)
            {
                running = new CompletableFuture<>();
                scans++;
            }
            else
            {
                joined++;
            }
            mine = running;
        }
        if (!owner)
        {
            return await(mine);
        }
        try
        {
            final Scan s = scanner.get();
            mine.complete(s);
            return s;
        }
        catch (final RuntimeException | Error ex)
        {
            mine.completeExceptionally(ex);
            throw ex;
        }
        finally
        {
            synchronized (this)
            {
                running = null;
            }
        }
    }

    /**
     * A streamed snapshot's scan: the one in progress, joined, or a new one that {@code maker} makes, started here. A
     * joiner streams the same manifest and plan from their first entry with its own cursors, chunk queue and
     * acknowledgements; each snapshot releases the scan when it ends ({@link StreamedScan#release}), and the last one
     * to leave a scan still running stops it.
     */
    StreamedScan streamed(final Supplier<StreamedScan> maker)
    {
        synchronized (this)
        {
            final StreamedScan s = streaming.get();
            if (s != null && !s.done() && s.failure() == null && s.retain())
            {
                joined++;
                return s;
            }
            final StreamedScan made = maker.get();
            made.retain();
            streaming = new java.lang.ref.WeakReference<>(made);
            scans++;
            made.start();
            return made;
        }
    }

    private static Scan await(final CompletableFuture<Scan> scan)
    {
        boolean interrupted = false;
        try
        {
            while (true)
            {
                try
                {
                    return scan.get();
                }
                catch (final InterruptedException ex)
                {
                    interrupted = true; // the scan we wait for is bounded by the tree: finish waiting, then re-flag
                }
                catch (final ExecutionException ex)
                {
                    final Throwable cause = ex.getCause();
                    if (cause instanceof FerryException)
                    {
                        final FerryException f = (FerryException)cause;
                        throw new FerryException(f.code(), f.getMessage(), f.hint(), f);
                    }
                    if (cause instanceof Error)
                    {
                        // the scan that ran out of heap (or died) is the one this clone was waiting for
                        throw new FerryException(ErrorCode.INTERNAL, "the shared scan of the tree failed: " + cause,
                            cause);
                    }
                    throw new FerryException(ErrorCode.INTERNAL, "the shared scan of the tree failed: " + cause, cause);
                }
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
     * @return scans this donor ran, and clones that took a scan another clone ran; for the log and tests.
     */
    synchronized long[] counts()
    {
        return new long[] { scans, joined };
    }
}
