package dev.ferry.engine.remote;

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
import java.util.List;
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
import dev.ferry.core.spi.Locator;

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several clones from one donor: concurrent clients each get their own snapshot and an identical tree; a donor at its
 * {@code maxClones} refuses another clone with {@code TOO_MANY_CLONES} (made deterministic by a raw client that holds
 * the only slot after {@code COM_RES_LOCS}), and serves again once the slot is released.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConcurrentCloneTest
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

    private static CloneClient.Options client(final int threads)
    {
        return new CloneClient.Options().threads(threads).settings(new CloneSettings().sync(false));
    }

    /**
     * Open a raw connection that completes HELLO, COM_CLONE and COM_INIT and reads COM_RES_LOCS and COM_RES_CONFIG:
     * the donor now holds a clone for it. Close it, or send COM_EXIT, to let go.
     */
    static RemoteTestSupport.RawPeer holdCloneSlot(final DonorService donor) throws IOException
    {
        final RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), 10_000);
        try
        {
            peer.send(RemoteTestSupport.RawPeer.clientHello());
            peer.expect(FrameType.HELLO);
            peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_CLONE, new byte[0]));
            peer.send(RemoteTestSupport.RawPeer.locatorFrame(FrameType.COM_INIT,
                Locator.version(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX)));
            peer.expect(FrameType.COM_RES_LOCS);
            peer.expect(FrameType.COM_RES_CONFIG);
            return peer;
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            peer.close();
            throw ex;
        }
    }

    @Test
    void clientsCloningAtOnceBothGetIdenticalTrees() throws Exception
    {
        final Path src = base.resolve("src");
        final RemoteTestSupport.Expected expected = RemoteTestSupport.buildEdgeCaseTree(src, true);
        final long bytes = RemoteTestSupport.regularBytes(src);
        final int[] threads = { 2, 2, 4 };
        final ExecutorService pool = Executors.newFixedThreadPool(threads.length);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions()).start())
        {
            final CyclicBarrier start = new CyclicBarrier(threads.length);
            final List<Future<CloneResult>> results = new ArrayList<>();
            for (int i = 0; i < threads.length; i++)
            {
                final Path dst = base.resolve("dst" + i);
                final int n = threads[i];
                results.add(pool.submit(() ->
                {
                    start.await(10, TimeUnit.SECONDS);
                    return new CloneClient(donor.address(), dst, client(n)).run();
                }));
            }
            final List<Long> snapshots = new ArrayList<>();
            for (final Future<CloneResult> f : results)
            {
                final CloneResult r = f.get(40, TimeUnit.SECONDS);
                assertEquals(bytes, r.dataBytes(), r.toString());
                assertFalse(snapshots.contains(r.snapshotId()), "every clone has its own snapshot");
                snapshots.add(r.snapshotId());
            }
            assertEquals(threads.length * bytes, donor.bytesSent(), "donor sent each tree once per client");
            RemoteTestSupport.awaitCloneCount(donor, 0, "finished clones must be released");
        }
        finally
        {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
        for (int i = 0; i < threads.length; i++)
        {
            final Path dst = base.resolve("dst" + i);
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst), "dst" + i);
            RemoteTestSupport.assertMatches(expected, dst);
        }
    }

    @Test
    void donorAtMaxClonesRefusesAnotherCloneUntilSlotIsReleased() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path refused = base.resolve("refused");
        final Path dst = base.resolve("dst");

        // no queue: a client beyond --max-clones is refused at once (QueueTest covers the queue)
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions().maxClones(1).maxQueued(0))
            .start())
        {
            try (RemoteTestSupport.RawPeer holder = holdCloneSlot(donor))
            {
                assertEquals(1, donor.cloneCount());
                final FerryException ex = assertThrows(FerryException.class,
                    () -> new CloneClient(donor.address(), refused, client(2)).run());
                assertEquals(ErrorCode.TOO_MANY_CLONES, ex.code(), ex.getMessage());
                assertFalse(ex.getMessage().isEmpty());
                assertFalse(Files.exists(refused, LinkOption.NOFOLLOW_LINKS), "a refused clone writes nothing");
                assertEquals(1, donor.cloneCount(), "the refused client must not take or free a slot");

                // a non-restartable COM_EXIT ends the held clone at once
                holder.send(RemoteTestSupport.RawPeer.exitFrame(ErrorCode.CANCELLED, "test releases the slot"));
                assertTrue(holder.closedByPeer(), "the donor closes after COM_EXIT");
            }
            assertEquals(0, donor.cloneCount());

            final CloneResult r = new CloneClient(donor.address(), dst, client(2)).run();
            assertEquals(RemoteTestSupport.regularBytes(src), r.dataBytes());
        }
        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
    }

    /**
     * PROTOCOL.md 6.3: "The client ends a task with COM_EXIT: code 0 after a normal end, or an error code and message,
     * for example CONFIG_MISMATCH ...", and the donor keeps a snapshot only after a restartable error. A clone that
     * failed on the recipient for a reason a restart cannot cure must not pin one of the donor's clone slots for the
     * whole restart window.
     */
    @Test
    void cloneThatFailsOnTheRecipientReleasesItsSlot() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path refused = base.resolve("refused");
        final Path dst = base.resolve("dst");
        final DonorService.Options options = donorOptions().maxClones(1);
        options.settings().checksum(false);

        try (DonorService donor = new DonorService(src, loopbackAnyPort(), options).start())
        {
            final FerryException ex = assertThrows(FerryException.class,
                () -> new CloneClient(donor.address(), refused, client(2).requireChecksum(true)).run());
            assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code(), ex.getMessage());

            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (donor.cloneCount() != 0 && System.nanoTime() < deadline)
            {
                Thread.sleep(20);
            }
            assertEquals(0, donor.cloneCount(), "the donor still holds the snapshot of a clone that failed with " +
                "CONFIG_MISMATCH: the client closed its connections without COM_EXIT, so the donor took it for a " +
                "network failure and keeps the snapshot for the restart window");
            new CloneClient(donor.address(), dst, client(2)).run();
        }
        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
    }

    /**
     * DonorService.onAccept reports a refused connection as TOO_MANY_CLONES in its own log, but only closes the
     * socket: the client then reports a lost connection (NETWORK, whose hint says "retry with --resume") instead of
     * the donor being full.
     */
    @Test
    void donorAtMaxConnectionsTellsTheClientWhy() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = base.resolve("dst");

        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions().maxConnections(1)).start();
            RemoteTestSupport.RawPeer holder = new RemoteTestSupport.RawPeer(donor.address(), 5_000))
        {
            holder.send(RemoteTestSupport.RawPeer.clientHello());
            holder.expect(FrameType.HELLO);
            final FerryException ex = assertThrows(FerryException.class,
                () -> new CloneClient(donor.address(), dst, client(1)).run());
            assertEquals(ErrorCode.name(ErrorCode.TOO_MANY_CLONES), ErrorCode.name(ex.code()), ex.getMessage());
        }
        assertFalse(Files.exists(dst, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void abandonedCloneIsHeldForRestartWindowThenDropped() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final Path dst = base.resolve("dst");

        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions().maxClones(1)
            .restartWindowMs(300)).start())
        {
            try (RemoteTestSupport.RawPeer holder = holdCloneSlot(donor))
            {
                assertEquals(1, donor.cloneCount(), "held by " + holder);
            }
            // the holder vanished without COM_EXIT: the snapshot waits for a restart, then expires
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (donor.cloneCount() != 0 && System.nanoTime() < deadline)
            {
                Thread.sleep(50);
            }
            assertEquals(0, donor.cloneCount(), "an abandoned snapshot must expire after the restart window");

            final CloneResult r = new CloneClient(donor.address(), dst, client(3)).run();
            assertNotEquals(0L, r.snapshotId());
        }
        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
    }
}
