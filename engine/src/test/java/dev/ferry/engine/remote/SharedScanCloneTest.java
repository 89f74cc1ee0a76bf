package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import java.nio.file.Files;
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

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Four clients started together against one donor: their scans overlap, so the donor walks the tree fewer times than
 * it takes snapshots, every clone that took another's scan still has its own chunk queue, and all four copies are
 * identical to the source.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SharedScanCloneTest
{
    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    /**
     * @param keepHashes with the hash store the manifest comes whole (a whole scan is shared); without it a fresh
     *                   clone streams its manifest, and the streamed scan is shared (PROTOCOL.md 6.5).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "keepHashes={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = { true, false })
    void clientsStartedTogetherShareTheDonorsScanAndAllFinishIdentical(final boolean keepHashes) throws Exception
    {
        final Path src = base.resolve("src");
        final RemoteTestSupport.Expected expected = RemoteTestSupport.buildEdgeCaseTree(src, true);
        // enough entries that a scan lasts longer than four clients take to connect
        for (int d = 0; d < 20; d++)
        {
            final Path dir = Files.createDirectories(src.resolve("many/d" + d));
            for (int f = 0; f < 150; f++)
            {
                Files.write(dir.resolve("f" + f), RemoteTestSupport.random(d * 1000L + f, f * 7));
            }
        }
        final int n = 4;
        final ExecutorService pool = Executors.newFixedThreadPool(n);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK))).start())
        {
            final CyclicBarrier start = new CyclicBarrier(n);
            final List<Future<CloneResult>> results = new ArrayList<>();
            for (int i = 0; i < n; i++)
            {
                final Path dst = base.resolve("dst" + i);
                results.add(pool.submit(() ->
                {
                    start.await(10, TimeUnit.SECONDS);
                    return new CloneClient(donor.address(), dst, new CloneClient.Options().threads(2)
                        .keepHashes(keepHashes).settings(new CloneSettings().sync(false))).run();
                }));
            }
            final long bytes = RemoteTestSupport.regularBytes(src);
            for (final Future<CloneResult> f : results)
            {
                assertEquals(bytes, f.get(90, TimeUnit.SECONDS).dataBytes());
            }
            final long[] counts = donor.scanCounts();
            assertTrue(counts[0] + counts[1] >= n, "every clone had a snapshot: scans " + counts[0] + ", shared " +
                counts[1]);
            assertTrue(counts[1] >= 1, "no clone shared a scan: " + counts[0] + " scans for " + n + " clients");
        }
        finally
        {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
        for (int i = 0; i < n; i++)
        {
            final Path dst = base.resolve("dst" + i);
            RemoteTestSupport.assertMatches(expected, dst);
            assertEquals(List.of(), TreeComparator.compare(src, dst), "copy " + i);
        }
    }
}
