package dev.ferry.engine.tools;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link WanProxy} behaves like the link it models: the round trip it adds, one connection capped near
 * {@code window / RTT}, connections together capped by the link's rate, and a clone through it identical.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WanProxyTest
{
    @TempDir
    Path dir;

    @Test
    void aRoundTripTakesTheRtt() throws Exception
    {
        try (ServerSocket echo = server(); WanProxy proxy = new WanProxy(address(echo), 0, 60, 1 << 20);
            Socket s = new Socket())
        {
            serve(echo, true, new AtomicLong());
            s.connect(proxy.address());
            final OutputStream out = s.getOutputStream();
            final InputStream in = s.getInputStream();
            out.write(1);
            assertEquals(1, in.read()); // the first round trip also connects
            final long t0 = System.nanoTime();
            out.write(2);
            assertEquals(2, in.read());
            final double ms = (System.nanoTime() - t0) / 1e6;
            assertTrue(ms >= 59 && ms < 200, "a round trip took " + ms + " ms");
        }
    }

    @Test
    void oneConnectionIsCappedByItsWindowAndManyByTheLink() throws Exception
    {
        // 256 KiB over 50 ms: about 5.2 MB/s per connection
        final AtomicLong received = new AtomicLong();
        try (ServerSocket sink = server(); WanProxy proxy = new WanProxy(address(sink), 0, 50, 256 * 1024))
        {
            serve(sink, false, received);
            final double one = push(proxy, 1, received);
            assertTrue(one > 0.8 * 5.24e6 && one < 1.1 * 5.24e6, "one connection moved " + one + " B/s");
        }
        final AtomicLong received2 = new AtomicLong();
        try (ServerSocket sink = server(); WanProxy proxy = new WanProxy(address(sink), 6_000_000, 50, 256 * 1024))
        {
            serve(sink, false, received2);
            final double three = push(proxy, 3, received2);
            assertTrue(three > 0.85 * 6e6 && three < 1.1 * 6e6, "three connections on a 6 MB/s link moved " + three +
                " B/s (their windows would allow 15.7 MB/s)");
        }
    }

    @Test
    void aCloneThroughTheProxyIsIdentical() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(5).mixed(src, 2, 3_000_000, 40);
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start();
            WanProxy proxy = new WanProxy(donor.address(), 50_000_000, 20, 1 << 20))
        {
            final CloneResult r = new CloneClient(proxy.address(), dir.resolve("dst"),
                new CloneClient.Options().threads(2).settings(new CloneSettings().sync(false))).run();
            assertEquals(List.of(), TreeComparator.compare(src, dir.resolve("dst")));
            assertTrue(proxy.downstreamBytes() >= r.dataBytes(), "the data crossed the proxy");
            // two per clone pass; a live clone's change pass (files written just before the scan are RECENT) adds the
            // metadata-only connection, the restarted master and the worker
            assertEquals(2 + 3 * (r.live().passes() - 1), proxy.connections(), r.toString());
        }
    }

    /** Write from {@code connections} sockets for 2 s; the rate the sink received from 0.5 s to 2 s. */
    private static double push(final WanProxy proxy, final int connections, final AtomicLong received) throws Exception
    {
        final Socket[] sockets = new Socket[connections];
        final Thread[] writers = new Thread[connections];
        final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        for (int i = 0; i < connections; i++)
        {
            final Socket s = new Socket();
            s.connect(proxy.address());
            sockets[i] = s;
            writers[i] = new Thread(() ->
            {
                final byte[] b = new byte[16 * 1024];
                try
                {
                    final OutputStream out = s.getOutputStream();
                    while (System.nanoTime() < end)
                    {
                        out.write(b);
                    }
                }
                catch (final java.io.IOException ignore)
                {
                    // closed
                }
            });
            writers[i].setDaemon(true);
            writers[i].start();
        }
        Thread.sleep(500);
        final long b0 = received.get();
        final long t0 = System.nanoTime();
        Thread.sleep(1_500);
        final double rate = (received.get() - b0) * 1e9 / (System.nanoTime() - t0);
        for (final Socket s : sockets)
        {
            s.close();
        }
        for (final Thread t : writers)
        {
            t.join(5_000);
        }
        return rate;
    }

    private static ServerSocket server() throws java.io.IOException
    {
        return new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    }

    private static InetSocketAddress address(final ServerSocket s)
    {
        return new InetSocketAddress(s.getInetAddress(), s.getLocalPort());
    }

    /** Accept forever; echo each connection's bytes back, or count them. */
    private static void serve(final ServerSocket server, final boolean echo, final AtomicLong received)
    {
        final Thread t = new Thread(() ->
        {
            while (true)
            {
                final Socket s;
                try
                {
                    s = server.accept();
                }
                catch (final java.io.IOException ex)
                {
                    return;
                }
                final Thread c = new Thread(() ->
                {
                    final byte[] b = new byte[64 * 1024];
                    try (s)
                    {
                        final InputStream in = s.getInputStream();
                        final OutputStream out = s.getOutputStream();
                        int n;
                        while ((n = in.read(b)) > 0)
                        {
                            received.addAndGet(n);
                            if (echo)
                            {
                                out.write(b, 0, n);
                            }
                        }
                    }
                    catch (final java.io.IOException ignore)
                    {
                        // closed
                    }
                });
                c.setDaemon(true);
                c.start();
            }
        });
        t.setDaemon(true);
        t.start();
    }
}
