package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import java.nio.file.Path;
import java.util.ArrayList;
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

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two clones at once through one donor event loop share it fairly: whichever reaches half of its bytes first, the
 * other has by then received more than 30% of its own. The donor's total rate limit makes the two connections
 * compete for one token bucket, where a loop that always served the same connection first would give it every
 * token (and the socket is never the limit). Judged from the clients' progress (bytes applied), not from timings.
 * The rate is set so that the bucket's initial burst (200 ms of the rate, which the first clone to stream takes
 * alone) is worth 10% of a clone: fair sharing then gives the other about 40% at the first one's half.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class FairnessTest
{
    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    /** One progress sample: when (ns, one clock for both clients) and how many data bytes were applied. */
    record Sample(long nanos, long bytes)
    {
    }

    @Test
    void twoClonesOnOneLoopBothProgressThroughout() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.buildEdgeCaseTree(src, true);
        final long bytes = RemoteTestSupport.regularBytes(src);
        final int n = 2;
        final List<List<Sample>> samples = new ArrayList<>();
        final ExecutorService pool = Executors.newFixedThreadPool(n);
        final DonorService.Options options = new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK))
            .loops(1).maxTotalRate(Math.max(1_000_000, bytes / 2)); // both clones together in about four seconds
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), options).start())
        {
            final CyclicBarrier start = new CyclicBarrier(n);
            final List<Future<CloneResult>> results = new ArrayList<>();
            for (int i = 0; i < n; i++)
            {
                final List<Sample> mine = new CopyOnWriteArrayList<>();
                samples.add(mine);
                final Path dst = base.resolve("dst" + i);
                results.add(pool.submit(() ->
                {
                    start.await(10, TimeUnit.SECONDS);
                    return new CloneClient(donor.address(), dst, new CloneClient.Options().threads(1)
                        .settings(new CloneSettings().sync(false))
                        .onProgress(p -> mine.add(new Sample(System.nanoTime(), p.dataBytes())), 10)).run();
                }));
            }
            for (final Future<CloneResult> f : results)
            {
                assertEquals(bytes, f.get(60, TimeUnit.SECONDS).dataBytes());
            }
        }
        finally
        {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
        for (int i = 0; i < n; i++)
        {
            final long half = firstAtLeast(samples.get(i), bytes / 2);
            final long other = bytesAt(samples.get(1 - i), half);
            System.out.printf("FairnessTest: when clone %d had half of its bytes, clone %d had %d%%%n", i, 1 - i,
                100 * other / bytes);
            assertTrue(other > bytes * 3 / 10, "when clone " + i + " had half of its " + bytes + " bytes, clone " +
                (1 - i) + " had only " + other + " (" + 100 * other / bytes + "%)");
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, base.resolve("dst" + i)));
        }
    }

    private static long firstAtLeast(final List<Sample> samples, final long bytes)
    {
        for (final Sample s : samples)
        {
            if (s.bytes() >= bytes)
            {
                return s.nanos();
            }
        }
        throw new AssertionError("never reached " + bytes + " bytes");
    }

    /**
     * @return the bytes of the last sample at or before {@code nanos} (0 before the first).
     */
    private static long bytesAt(final List<Sample> samples, final long nanos)
    {
        long b = 0;
        for (final Sample s : samples)
        {
            if (s.nanos() - nanos > 0)
            {
                break;
            }
            b = s.bytes();
        }
        return b;
    }
}
