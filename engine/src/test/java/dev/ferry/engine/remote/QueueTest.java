package dev.ferry.engine.remote;

import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.QueuedCodec;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.Locator;
import dev.ferry.transport.TransportSettings;

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clones beyond {@code --max-clones} wait in the donor's queue (PROTOCOL.md 6.4): they see {@code queued} with their
 * position, are admitted first come first served, and finish identical; the queue's own limit refuses with
 * TOO_MANY_CLONES; a queued connection outlives the read timeout; a client that does not announce FEATURE_QUEUE is
 * refused as before.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class QueueTest
{
    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    private static DonorService.Options donorOptions()
    {
        return new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK));
    }

    /** What one client saw: every queue position in order, and when it first had a snapshot (admitted). */
    static final class Seen
    {
        final List<Integer> positions = new CopyOnWriteArrayList<>();
        volatile boolean admitted;
    }

    private static CloneClient.Options client(final Seen seen, final List<Integer> admissions, final int id)
    {
        return new CloneClient.Options().threads(2).settings(new CloneSettings().sync(false)).onProgress(p ->
        {
            record(seen, p);
            if (!seen.admitted && p.snapshotId() != 0)
            {
                seen.admitted = true;
                admissions.add(id);
            }
        }, 10);
    }

    private static void record(final Seen seen, final CloneProgress p)
    {
        if (p.queued())
        {
            assertTrue(p.queuePosition() >= 1 && p.queuePosition() <= p.queueLength(), p.queuePosition() + " of " +
                p.queueLength());
            final int n = seen.positions.size();
            if (n == 0 || seen.positions.get(n - 1) != p.queuePosition())
            {
                seen.positions.add(p.queuePosition());
            }
        }
    }

    /**
     * max-clones 1, three clients started together: one is served, two wait; each waiting client sees its place
     * (one starts at 2 and moves to 1), places only go down, admission follows the places (FIFO), and all three
     * copies are identical to the source. A donor rate limit makes each clone last long enough to overlap.
     */
    @Test
    void threeClientsOneSlotAllFinishInQueueOrder() throws Exception
    {
        final Path src = base.resolve("src");
        final RemoteTestSupport.Expected expected = RemoteTestSupport.buildEdgeCaseTree(src, true);
        // past the donor's racy window: files written just before the scan would give each clone a second pass (a
        // new snapshot, queued again), and this test counts one wait per client
        Thread.sleep(2 * dev.ferry.engine.layout.ManifestScanner.RACY_WINDOW_NANOS / 1_000_000);
        final long bytes = RemoteTestSupport.regularBytes(src);
        final int n = 3;
        final ExecutorService pool = Executors.newFixedThreadPool(n);
        final Seen[] seen = new Seen[n];
        final List<Integer> admissions = Collections.synchronizedList(new ArrayList<>());
        // about a second per clone: the others are queued for all of it
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions().maxClones(1)
            .maxRate(Math.max(1_000_000, bytes))).start())
        {
            final CyclicBarrier start = new CyclicBarrier(n);
            final List<Future<CloneResult>> results = new ArrayList<>();
            for (int i = 0; i < n; i++)
            {
                final Path dst = base.resolve("dst" + i);
                final int id = i;
                seen[i] = new Seen();
                results.add(pool.submit(() ->
                {
                    start.await(10, TimeUnit.SECONDS);
                    return new CloneClient(donor.address(), dst, client(seen[id], admissions, id)).run();
                }));
            }
            for (final Future<CloneResult> f : results)
            {
                assertEquals(bytes, f.get(60, TimeUnit.SECONDS).dataBytes());
            }
            RemoteTestSupport.awaitCloneCount(donor, 0, "finished clones are released");
            assertEquals(0, donor.queuedCount());
        }
        finally
        {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
        final String story = "admitted " + admissions + ", positions seen " + List.of(seen[0].positions,
            seen[1].positions, seen[2].positions);
        assertEquals(n, admissions.size(), story);
        int queued = 0;
        int startedSecond = -1;
        int startedFirst = -1;
        for (int i = 0; i < n; i++)
        {
            final List<Integer> p = seen[i].positions;
            if (p.isEmpty())
            {
                assertEquals(i, (int)admissions.get(0), "the client never queued is the one served first: " + story);
                continue;
            }
            queued++;
            for (int k = 1; k < p.size(); k++)
            {
                assertTrue(p.get(k) < p.get(k - 1), "a place in the queue only goes down: " + story);
            }
            assertEquals(1, (int)p.get(p.size() - 1), "every waiting client is next before it is admitted: " + story);
            if (p.get(0) == 2)
            {
                startedSecond = i;
            }
            else
            {
                startedFirst = i;
            }
        }
        assertEquals(2, queued, "two of three clients waited: " + story);
        assertTrue(startedFirst >= 0 && startedSecond >= 0, "one waited at place 1, one at place 2: " + story);
        assertTrue(admissions.indexOf(startedFirst) < admissions.indexOf(startedSecond), "FIFO: " + story);
        for (int i = 0; i < n; i++)
        {
            final Path dst = base.resolve("dst" + i);
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst), "dst" + i);
            RemoteTestSupport.assertMatches(expected, dst);
        }
    }

    /**
     * max-clones 1, max-queued 1, a short read timeout: a raw client holds the slot, a real client waits (queued,
     * place 1 of 1) longer than two read timeouts without being dropped, a third is refused with TOO_MANY_CLONES
     * naming --max-queued and writes nothing, a raw client without FEATURE_QUEUE is refused as before; the raw
     * waiting client reads the notice's bytes; once the slot is free the waiting clone finishes identical.
     */
    @Test
    void queueLimitRefusesAndAQueuedClientOutlivesTheReadTimeout() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final long readTimeoutMs = 1_500;
        final DonorService.Options options = donorOptions().maxClones(1).maxQueued(1)
            .transport(new TransportSettings().readTimeoutMs(readTimeoutMs).heartbeatMs(300));
        final ExecutorService pool = Executors.newSingleThreadExecutor();
        final Seen seen = new Seen();
        final Path waiter = base.resolve("waiter");
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), options).start())
        {
            final RemoteTestSupport.RawPeer holder = ConcurrentCloneTest.holdCloneSlot(donor);
            // the holder answers the donor's read timeout with PINGs, as a live client does
            final java.util.concurrent.ScheduledExecutorService pinger = Executors.newSingleThreadScheduledExecutor();
            pinger.scheduleAtFixedRate(() ->
            {
                try
                {
                    holder.send(RemoteTestSupport.RawPeer.frame(FrameType.PING, new byte[0]));
                }
                catch (final IOException ignore)
                {
                    // the assertions below tell
                }
            }, 0, 200, TimeUnit.MILLISECONDS);
            final Future<CloneResult> waiting;
            try
            {
                waiting = pool.submit(() -> new CloneClient(donor.address(), waiter, client(seen,
                    new CopyOnWriteArrayList<>(), 0).transport(new TransportSettings().readTimeoutMs(readTimeoutMs)
                    .heartbeatMs(300))).run());
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (donor.queuedCount() != 1 && System.nanoTime() < deadline)
                {
                    Thread.sleep(10);
                }
                assertEquals(1, donor.queuedCount(), "the second clone waits");

                final Path refused = base.resolve("refused");
                final FerryException ex = org.junit.jupiter.api.Assertions.assertThrows(FerryException.class,
                    () -> new CloneClient(donor.address(), refused, new CloneClient.Options()).run());
                assertEquals(ErrorCode.TOO_MANY_CLONES, ex.code(), ex.getMessage());
                assertTrue(ex.getMessage().contains("--max-queued 1"), ex.getMessage());
                assertFalse(Files.exists(refused, LinkOption.NOFOLLOW_LINKS), "a refused clone writes nothing");

                try (RemoteTestSupport.RawPeer old = new RemoteTestSupport.RawPeer(donor.address(), 5_000))
                {
                    initAs(old, HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART);
                    final RemoteTestSupport.Frame f = old.read();
                    assertEquals(FrameType.COM_RES_ERROR, f.type, "a client that cannot wait is refused at once");
                    assertEquals(ErrorCode.TOO_MANY_CLONES, f.errorCode());
                }

                Thread.sleep(3 * readTimeoutMs); // longer than the read timeouts of both sides
                assertFalse(waiting.isDone(), "the queued clone is still waiting, not dropped");
                assertEquals(1, donor.queuedCount());
                assertEquals(List.of(1), seen.positions, "place 1 of 1 the whole time");
            }
            finally
            {
                pinger.shutdownNow();
                assertTrue(pinger.awaitTermination(5, TimeUnit.SECONDS));
                holder.send(RemoteTestSupport.RawPeer.exitFrame(ErrorCode.CANCELLED, "test frees the slot"));
                holder.close();
            }
            final CloneResult r = waiting.get(30, TimeUnit.SECONDS);
            assertEquals(RemoteTestSupport.regularBytes(src), r.dataBytes());
            RemoteTestSupport.awaitCloneCount(donor, 0, "the clone ended");
            assertEquals(0, donor.queuedCount());
        }
        finally
        {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, waiter));
    }

    /**
     * The notice's bytes on the wire: a raw client with FEATURE_QUEUE behind a held slot reads COM_RES_QUEUED (place
     * 1 of 1, 1 running) at once and again about a second later, then COM_RES_LOCS once the slot is free.
     */
    @Test
    void rawClientReadsNoticesThenItsLocator() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions().maxClones(1)).start();
            RemoteTestSupport.RawPeer holder = ConcurrentCloneTest.holdCloneSlot(donor);
            RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), 5_000))
        {
            initAs(peer, HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART | HelloCodec.FEATURE_QUEUE);
            final long t0 = System.nanoTime();
            for (int i = 0; i < 2; i++)
            {
                RemoteTestSupport.Frame f = peer.read();
                while (f.type == FrameType.PING)
                {
                    f = peer.read();
                }
                assertEquals(FrameType.COM_RES_QUEUED, f.type, FrameType.name(f.type));
                assertEquals(8 + QueuedCodec.LENGTH, f.length);
                assertEquals(1, QueuedCodec.position(new org.agrona.concurrent.UnsafeBuffer(f.body), 0));
                assertEquals(1, QueuedCodec.waiting(new org.agrona.concurrent.UnsafeBuffer(f.body), 0));
                assertEquals(1, QueuedCodec.running(new org.agrona.concurrent.UnsafeBuffer(f.body), 0));
            }
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(800), "the second notice a second later");
            holder.send(RemoteTestSupport.RawPeer.exitFrame(ErrorCode.CANCELLED, "test frees the slot"));
            RemoteTestSupport.Frame f = peer.read();
            while (f.type == FrameType.PING || f.type == FrameType.COM_RES_QUEUED)
            {
                f = peer.read();
            }
            assertEquals(FrameType.COM_RES_LOCS, f.type, FrameType.name(f.type));
            assertEquals(0, donor.queuedCount());
        }
    }

    private static void initAs(final RemoteTestSupport.RawPeer peer, final long features) throws IOException
    {
        peer.send(RemoteTestSupport.RawPeer.hello(Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX, HelloCodec.ROLE_CLIENT,
            features));
        peer.expect(FrameType.HELLO);
        peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_CLONE, new byte[0]));
        peer.send(RemoteTestSupport.RawPeer.locatorFrame(FrameType.COM_INIT,
            Locator.version(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX)));
    }
}
