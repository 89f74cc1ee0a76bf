package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Rate limits end to end on loopback: a 12 MB clone at 4 MB/s, limited by the client ({@code --max-rate}) and by the
 * donor (per clone, and for the whole donor, set while it runs). The rate is measured on the bytes the client
 * received, sampled every 100 ms, from the first second to the last sample before the end, and must be within 10%
 * of the limit; the copy must be identical.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RateLimitTest
{
    private static final long LIMIT = 4_000_000;
    private static final long DATA = 12_000_000;

    @TempDir
    Path dir;

    @Test
    void theClientsMaxRateHoldsWithinTenPercent() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(11).mixed(src, 2, DATA / 2, 0);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), new DonorService.Options()).start())
        {
            final CloneClient client = new CloneClient(donor.address(), dir.resolve("dst"),
                new CloneClient.Options().threads(2).maxRate(LIMIT).settings(new CloneSettings().sync(false)));
            assertEquals(LIMIT, client.maxRate());
            measure(client, src, dir.resolve("dst"));
        }
    }

    /**
     * A rate-limited stream is read in pieces cut by the tokens, so a parse rarely ends on a frame boundary: the
     * connection is "mid-frame" nearly all the time while it completes frames all the time. The frame timer must
     * restart with each completed frame; it used to run from the first incomplete report and cut a healthy clone
     * after the read timeout (seen 30 s into a clone under --max-rate 30M). Here: a 1.5 s read timeout, a clone of
     * about 3 s at the limit, blocks of 64 KiB (each done in well under the timeout): no reconnect.
     */
    @Test
    void aThrottledStreamDoesNotTripTheFrameTimeout() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(12).mixed(src, 2, DATA / 2, 0);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), new DonorService.Options()
            .settings(new CloneSettings().blockSize(64 * 1024))).start())
        {
            final CloneClient client = new CloneClient(donor.address(), dir.resolve("dst"),
                new CloneClient.Options().threads(2).maxRate(LIMIT).settings(new CloneSettings().sync(false))
                .transport(new dev.ferry.transport.TransportSettings().readTimeoutMs(1_500).heartbeatMs(200)));
            measure(client, src, dir.resolve("dst"));
            assertEquals(0, client.progress().restarts(), "a healthy throttled stream was cut by the frame timer");
        }
    }

    @Test
    void theDonorsPerCloneAndTotalRatesHoldWithinTenPercent() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(12).mixed(src, 2, DATA / 2, 0);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(),
            new DonorService.Options().maxRate(LIMIT).settings(new CloneSettings())).start())
        {
            assertEquals(LIMIT, donor.maxRate());
            measure(new CloneClient(donor.address(), dir.resolve("dst1"),
                new CloneClient.Options().threads(3).settings(new CloneSettings().sync(false))), src, dir.resolve("dst1"));

            donor.setMaxRate(0);
            donor.setMaxTotalRate(LIMIT); // at runtime: the whole donor's bucket now limits
            assertEquals(LIMIT, donor.maxTotalRate());
            measure(new CloneClient(donor.address(), dir.resolve("dst2"),
                new CloneClient.Options().threads(2).settings(new CloneSettings().sync(false))), src, dir.resolve("dst2"));
        }
    }

    private static void measure(final CloneClient client, final Path src, final Path dst) throws Exception
    {
        final List<long[]> samples = new ArrayList<>();
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread sampler = new Thread(() ->
        {
            final long start = System.nanoTime();
            while (!stop.get())
            {
                synchronized (samples)
                {
                    samples.add(new long[] { System.nanoTime() - start, client.progress().networkBytes() });
                }
                try
                {
                    Thread.sleep(100);
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
        }, "rate-sampler");
        sampler.setDaemon(true);
        sampler.start();
        final CloneResult r;
        try
        {
            r = client.run();
        }
        finally
        {
            stop.set(true);
            sampler.join(5_000);
        }
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        assertEquals(DATA, r.dataBytes());
        assertTrue(r.networkBytes() >= DATA, "every byte came over the network: " + r.networkBytes());
        long[] first = null;
        long[] last = null;
        for (final long[] s : samples)
        {
            if (first == null && s[0] >= TimeUnit.SECONDS.toNanos(1))
            {
                first = s;
            }
            if (first != null && s[1] < r.networkBytes())
            {
                last = s;
            }
        }
        assertTrue(first != null && last != null && last[0] - first[0] >= TimeUnit.SECONDS.toNanos(1),
            "at least a second measured past the first: " + samples.size() + " samples");
        final double rate = (last[1] - first[1]) * 1e9 / (last[0] - first[0]);
        assertTrue(rate >= 0.9 * LIMIT && rate <= 1.1 * LIMIT, "measured " + rate + " B/s against a limit of " + LIMIT +
            " (" + (last[1] - first[1]) + " bytes in " + (last[0] - first[0]) / 1e6 + " ms)");
        assertTrue(r.seconds() >= (DATA - 1_000_000) / (double)LIMIT - 1.0, "took " + r.seconds() + " s");
    }
}
