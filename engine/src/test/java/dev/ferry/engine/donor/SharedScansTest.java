package dev.ferry.engine.donor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clones whose scans overlap share one: a clone that begins while a scan runs takes its result; a finished scan is
 * never reused; a failed scan fails its joiners with the same error code.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SharedScansTest
{
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop()
    {
        pool.shutdownNow();
    }

    private static void awaitJoined(final SharedScans scans, final long joined) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (scans.counts()[1] < joined)
        {
            assertTrue(System.nanoTime() < deadline, "no clone joined the running scan");
            Thread.sleep(1);
        }
    }

    @Test
    void clonesBeginningDuringAScanShareItAndALaterCloneScansAgain() throws Exception
    {
        final SharedScans scans = new SharedScans();
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger walks = new AtomicInteger();
        final SharedScans.Scan first = new SharedScans.Scan(null, null);
        final Future<SharedScans.Scan> owner = pool.submit(() -> scans.scan(() ->
        {
            walks.incrementAndGet();
            await(release);
            return first;
        }));
        final SharedScans.Scan unused = new SharedScans.Scan(null, null);
        while (walks.get() == 0)
        {
            Thread.sleep(1);
        }
        final Future<SharedScans.Scan> joinerA = pool.submit(() -> scans.scan(() ->
        {
            walks.incrementAndGet();
            return unused;
        }));
        final Future<SharedScans.Scan> joinerB = pool.submit(() -> scans.scan(() ->
        {
            walks.incrementAndGet();
            return unused;
        }));
        awaitJoined(scans, 2);
        release.countDown();
        assertSame(first, owner.get(10, TimeUnit.SECONDS));
        assertSame(first, joinerA.get(10, TimeUnit.SECONDS));
        assertSame(first, joinerB.get(10, TimeUnit.SECONDS));
        assertEquals(1, walks.get(), "the tree was walked once for three clones");
        assertArrayEquals(new long[] { 1, 2 }, scans.counts());

        // the scan has finished: the next clone walks the tree itself, it does not get the old snapshot
        final SharedScans.Scan later = new SharedScans.Scan(null, null);
        assertSame(later, scans.scan(() ->
        {
            walks.incrementAndGet();
            return later;
        }));
        assertEquals(2, walks.get());
        assertArrayEquals(new long[] { 2, 2 }, scans.counts());
    }

    @Test
    void aFailedScanFailsItsJoinersWithItsCodeAndTheNextCloneScansAfresh() throws Exception
    {
        final SharedScans scans = new SharedScans();
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch started = new CountDownLatch(1);
        final Future<SharedScans.Scan> owner = pool.submit(() -> scans.scan(() ->
        {
            started.countDown();
            await(release);
            throw new FerryException(ErrorCode.IO_ERROR, "cannot read /data/x: Permission denied");
        }));
        assertTrue(started.await(10, TimeUnit.SECONDS));
        final Future<SharedScans.Scan> joiner = pool.submit(() -> scans.scan(() -> new SharedScans.Scan(null, null)));
        awaitJoined(scans, 1);
        release.countDown();
        final Exception ownerFailure = assertThrows(Exception.class, () -> owner.get(10, TimeUnit.SECONDS));
        assertTrue(ownerFailure.getCause() instanceof FerryException, String.valueOf(ownerFailure.getCause()));
        final Exception joinerFailure = assertThrows(Exception.class, () -> joiner.get(10, TimeUnit.SECONDS));
        final FerryException f = (FerryException)joinerFailure.getCause();
        assertEquals(ErrorCode.IO_ERROR, f.code());
        assertTrue(f.getMessage().contains("Permission denied"), f.getMessage());

        final SharedScans.Scan fresh = new SharedScans.Scan(null, null);
        assertSame(fresh, scans.scan(() -> fresh), "a failed scan is not kept");
    }

    private static void await(final CountDownLatch latch)
    {
        try
        {
            assertTrue(latch.await(10, TimeUnit.SECONDS));
        }
        catch (final InterruptedException ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
