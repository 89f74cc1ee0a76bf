package dev.ferry.engine.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.transport.TransportSettings;

/**
 * Restarts raced against sends on real threads: a real client clones large files (blocks sent by sendfile with their
 * CRC32C read through a memory map) while a proxy black-holes one of its connections again and again. The donor's
 * session on a black-holed connection stays alive and keeps sending (the proxy keeps reading), so each time the client
 * times out and sends COM_REINIT, the new session must take the task over from a live session that is in the middle
 * of sending from its cursor. Before cursors had one owner, the new session's thread closed and unmapped the old
 * session's cursor under it (the donor JVM died with SIGSEGV in a CRC32C over an unmapped region). Now the old
 * session ends its own cursor on its own thread; the donor never logs an internal error and the copy is identical.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class TaskOwnershipStressTest
{
    private static final int HOLES = 12;

    @TempDir
    Path dir;

    @Test
    void reinitsTakingOverLiveSendingSessionsNeverShareACursor() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(11).mixed(src, 6, 8L * 1024 * 1024, 50);
        final Map<Integer, Integer> logged = new ConcurrentHashMap<>();
        final AtomicInteger internal = new AtomicInteger();
        final AtomicInteger takeovers = new AtomicInteger();
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .settings(new CloneSettings().blockSize(256 * 1024).chunkSize(1024 * 1024)).loops(2)
            .log(ex ->
            {
                final int code = ex instanceof FerryException ? ((FerryException)ex).code() : ErrorCode.INTERNAL;
                logged.merge(code, 1, Integer::sum);
                if (ex.getMessage() != null && ex.getMessage().contains("a new session took the snapshot over"))
                {
                    takeovers.incrementAndGet();
                }
                if (code == ErrorCode.INTERNAL || !(ex instanceof FerryException))
                {
                    internal.incrementAndGet();
                    ex.printStackTrace();
                }
            })).start();
            FaultProxy proxy = new FaultProxy(donor.address()))
        {
            proxy.throttle(8L * 1024 * 1024); // per connection: the clone lasts long enough for every hole
            final AtomicReference<Object> outcome = new AtomicReference<>();
            final Thread client = new Thread(() ->
            {
                try
                {
                    outcome.set(new CloneClient(proxy.address(), dir.resolve("dst"), new CloneClient.Options().threads(3)
                        .transport(new TransportSettings().readTimeoutMs(400).heartbeatMs(100))
                        .settings(new CloneSettings().sync(false))).run());
                }
                catch (final RuntimeException ex)
                {
                    outcome.set(ex);
                }
            }, "stress-client");
            client.start();
            for (int hole = 0; hole < HOLES && client.isAlive(); hole++)
            {
                proxy.arm(FaultProxy.Kind.BLACK_HOLE, 512 * 1024);
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (proxy.armed() && client.isAlive() && System.nanoTime() < deadline)
                {
                    Thread.sleep(5);
                }
                Thread.sleep(300); // let the client time out and take the snapshot over while the hole still sends
            }
            client.join(TimeUnit.SECONDS.toMillis(180));
            assertTrue(outcome.get() instanceof CloneResult, "the clone failed: " + outcome.get());
            final CloneResult result = (CloneResult)outcome.get();
            System.out.println("TaskOwnershipStressTest: " + proxy.faultsFired() + " black holes, " + takeovers.get() +
                " live sessions taken over, client restarted " + result.restarts() + " times; donor log " + logged);
            assertEquals(0, internal.get(), "the donor logged internal errors: " + logged);
            assertTrue(takeovers.get() >= HOLES / 2, "too few takeovers of live sessions: " + takeovers.get());
            final List<String> expected = TestFiles.listAll(src);
            assertEquals(expected, TestFiles.listAll(dir.resolve("dst")));
            for (final String p : expected)
            {
                if (Files.isRegularFile(src.resolve(p)))
                {
                    assertEquals(TestFiles.sha256(src.resolve(p)), TestFiles.sha256(dir.resolve("dst").resolve(p)), p);
                }
            }
            RemoteTestSupport.awaitCloneCount(donor, 0, "the snapshot is released after the clone");
        }
    }
}
