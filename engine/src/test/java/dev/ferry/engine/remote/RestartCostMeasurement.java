package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.spi.Stage;
import dev.ferry.transport.TransportSettings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Not part of the default run (it moves over a GiB): {@code mvn -pl engine test -Dtest=RestartCostMeasurement
 * -Dferry.measure=true}. A 1 GiB clone with 4 threads is cut ten times at random points; prints the bytes the donor
 * sent over the bytes of the dataset.
 */
@EnabledIfSystemProperty(named = "ferry.measure", matches = "true")
@Timeout(value = 20, unit = TimeUnit.MINUTES)
class RestartCostMeasurement
{
    @TempDir
    Path dir;

    @Test
    void oneGibCutTenTimes() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(2026).mixed(src, 14, 72L * 1024 * 1024, 2000);
        final Path dst = dir.resolve("dst");
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start(); FaultProxy proxy = new FaultProxy(donor.address()))
        {
            final CloneClient client = new CloneClient(proxy.address(), dst, new CloneClient.Options().threads(4)
                .transport(new TransportSettings().readTimeoutMs(3000).heartbeatMs(300)).restartWindowMs(60_000));
            final Random random = new Random(42);
            final Thread chaos = new Thread(() ->
            {
                try
                {
                    for (int i = 0; i < 10; i++)
                    {
                        proxy.arm(FaultProxy.Kind.RESET, 1 + random.nextInt(90 * 1024 * 1024));
                        while (proxy.armed() && client.progress().stage() < Stage.FILE_SYNC)
                        {
                            Thread.sleep(1);
                        }
                    }
                }
                catch (final InterruptedException ignore)
                {
                    // done
                }
            });
            chaos.start();
            final CloneResult r = client.run();
            chaos.interrupt();
            chaos.join();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            final double ratio = donor.bytesSent() / (double)r.dataBytes();
            System.out.printf("restart cost: %d cuts, %d restarts, dataset %d bytes, donor sent %d bytes, ratio %.4f, " +
                "proxy carried %d bytes%n", proxy.faultsFired(), r.restarts(), r.dataBytes(), donor.bytesSent(), ratio,
                proxy.downstreamBytes());
            assertTrue(proxy.faultsFired() == 10, "cuts fired: " + proxy.faultsFired());
        }
    }
}
