package dev.ferry.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TokenBucket} on a hand-moved clock: the rate, the documented burst, refill, a rate changed at runtime, a
 * parent bucket, refunds, many threads contending (never more than {@code rate * t + burst}), and {@link FrameSender}
 * sizing its sends (buffer and sendfile region) to the tokens it gets.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TokenBucketTest
{
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    private static final long RATE = 10_000_000; // 10 MB/s: burst 2 MB

    @TempDir
    Path dir;

    private final CachedNanoClock clock = new CachedNanoClock();

    @Test
    void aFreshBucketHoldsTheBurstThenRefillsAtTheRate()
    {
        clock.update(5 * SECOND);
        final TokenBucket b = new TokenBucket(clock, RATE, null);
        assertEquals(2_000_000, b.burstBytes(), "200 ms of the rate");
        assertEquals(2_000_000, b.acquire(Long.MAX_VALUE), "a fresh bucket holds the burst");
        assertEquals(0, b.acquire(1), "then it is empty");
        clock.advance(1 * MS);
        assertEquals(10_000, b.acquire(1_000_000), "1 ms earns rate / 1000");
        clock.advance(10 * MS);
        assertEquals(40_000, b.acquire(40_000), "a grant never exceeds what was asked");
        assertEquals(60_000, b.acquire(1_000_000), "the rest of the 10 ms stays in the bucket");
        clock.advance(60 * SECOND);
        assertEquals(2_000_000, b.acquire(Long.MAX_VALUE), "an idle bucket fills to the burst and no further");
    }

    @Test
    void overAnyIntervalTheGrantsStayWithinRateTimesTimePlusBurst()
    {
        final TokenBucket b = new TokenBucket(clock, RATE, null);
        final SplittableRandom random = new SplittableRandom(42);
        final long start = clock.nanoTime();
        long total = 0;
        for (int i = 0; i < 200_000; i++)
        {
            clock.advance(random.nextLong(50_000)); // up to 50 us per step: about 5 s in all
            total += b.acquire(1 + random.nextLong(300_000));
            final long elapsed = clock.nanoTime() - start;
            assertTrue(total <= RATE * elapsed / SECOND + b.burstBytes() + 1, "at step " + i);
        }
        final long elapsed = clock.nanoTime() - start;
        assertTrue(total >= RATE * elapsed / SECOND, "a bucket asked for more than it earns grants all it earns: " +
            total + " in " + elapsed + " ns");
    }

    @Test
    void aSmallRateStillHasTheMinimumBurst()
    {
        final TokenBucket b = new TokenBucket(clock, 1_000, null);
        assertEquals(TokenBucket.MIN_BURST_BYTES, b.burstBytes());
        b.acquire(Long.MAX_VALUE);
        clock.advance(100 * SECOND);
        assertEquals(TokenBucket.MIN_BURST_BYTES, b.acquire(Long.MAX_VALUE));
    }

    @Test
    void theRateChangesAtRuntimeAndZeroMeansUnlimited()
    {
        final TokenBucket b = new TokenBucket(clock, RATE, null);
        b.acquire(Long.MAX_VALUE);
        b.rate(1_000_000);
        clock.advance(100 * MS);
        assertEquals(100_000, b.acquire(Long.MAX_VALUE), "the new rate applies from the next acquire");
        b.rate(TokenBucket.UNLIMITED);
        assertEquals(Long.MAX_VALUE / 2, b.acquire(Long.MAX_VALUE / 2), "unlimited grants everything at once");
        b.rate(RATE);
        clock.advance(1 * MS);
        assertEquals(10_000, b.acquire(Long.MAX_VALUE), "limited again: the same arithmetic as before");
        assertThrows(IllegalArgumentException.class, () -> b.rate(-1));
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(clock, -5, null));
    }

    @Test
    void refundsReturnWhatTheSocketDidNotTake()
    {
        final TokenBucket b = new TokenBucket(clock, RATE, null);
        assertEquals(2_000_000, b.acquire(Long.MAX_VALUE));
        b.refund(500_000);
        assertEquals(500_000, b.acquire(Long.MAX_VALUE), "a refund can be taken again");
        clock.advance(60 * SECOND);
        b.refund(1_000_000);
        assertEquals(2_000_000, b.acquire(Long.MAX_VALUE), "a refund never fills a bucket past the burst");
    }

    @Test
    void aChildGrantsNoMoreThanItsParentAndKeepsWhatTheParentRefused()
    {
        final TokenBucket total = new TokenBucket(clock, 5_000_000, null);   // burst 1 MB
        final TokenBucket a = new TokenBucket(clock, RATE, total);            // burst 2 MB
        final TokenBucket c = new TokenBucket(clock, RATE, total);
        assertEquals(1_000_000, a.acquire(Long.MAX_VALUE), "the parent's burst caps the child");
        assertEquals(0, c.acquire(Long.MAX_VALUE), "a sibling shares the parent");
        clock.advance(10 * MS);
        assertEquals(50_000, c.acquire(Long.MAX_VALUE), "10 ms of the parent's rate");
        a.refund(30_000);
        assertEquals(30_000, c.acquire(Long.MAX_VALUE), "a child's refund goes back to the parent too");
        total.rate(TokenBucket.UNLIMITED);
        assertEquals(1_130_000, a.acquire(Long.MAX_VALUE), "what the parent refused stayed in the child (2 MB " +
            "burst - 1 MB taken + 10 ms + 30 KB refunded)");
    }

    @Test
    void manyThreadsContendingNeverGetMoreThanRateTimesTimePlusBurst() throws InterruptedException
    {
        final TokenBucket b = new TokenBucket(clock, RATE, null);
        final long start = clock.nanoTime();
        final AtomicLong granted = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicBoolean exceeded = new AtomicBoolean();
        final int threads = 4;
        final CountDownLatch done = new CountDownLatch(threads);
        final List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final long seed = t;
            final Thread th = new Thread(() ->
            {
                final SplittableRandom random = new SplittableRandom(seed);
                while (!stop.get())
                {
                    final long g = b.acquire(1 + random.nextLong(100_000));
                    if (g > 0)
                    {
                        // read the clock after the grant: the bound must hold at any later instant
                        final long sum = granted.addAndGet(g);
                        if (sum > RATE * (clock.nanoTime() - start) / SECOND + b.burstBytes() + threads)
                        {
                            exceeded.set(true);
                        }
                        if (random.nextInt(8) == 0)
                        {
                            final long back = random.nextLong(g + 1);
                            granted.addAndGet(-back);
                            b.refund(back);
                        }
                    }
                }
                done.countDown();
            }, "bucket-" + t);
            th.setDaemon(true);
            started.add(th);
            th.start();
        }
        for (int i = 0; i < 20_000; i++)
        {
            clock.advance(100_000); // 0.1 ms steps: 2 s in all
            Thread.onSpinWait();
        }
        stop.set(true);
        assertTrue(done.await(20, TimeUnit.SECONDS));
        final long elapsed = clock.nanoTime() - start;
        assertFalse(exceeded.get(), "some thread saw more granted than rate * t + burst");
        assertTrue(granted.get() <= RATE * elapsed / SECOND + b.burstBytes() + threads);
        assertTrue(granted.get() > 0);
    }

    @Test
    void theSenderSizesBufferAndRegionSendsToTheTokens() throws IOException
    {
        final Path file = dir.resolve("f");
        final byte[] data = new byte[3_000_000];
        new SplittableRandom(1).nextBytes(data);
        Files.write(file, data);
        final TokenBucket b = new TokenBucket(clock, 1_000_000, null); // burst 200 KB
        final FrameSender sender = new FrameSender(64 * 1024, 1L << 30);
        sender.throttle(b);
        final FrameSenderTest.RecordingIo io = new FrameSenderTest.RecordingIo(Long.MAX_VALUE);
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ))
        {
            assertTrue(sender.sendRegion(FrameType.COM_RES_DATA, fc, 0, data.length));
            sender.flush(io);
            assertTrue(sender.starved(), "the burst ran out before the region did");
            assertEquals(200_000, io.bytes().length, "header and body together took the burst");
            sender.flush(io);
            assertEquals(200_000, io.bytes().length, "no tokens, nothing sent");
            long elapsed = 0;
            while (!sender.isEmpty())
            {
                clock.advance(5 * MS);
                elapsed += 5 * MS;
                sender.flush(io);
                assertTrue(io.bytes().length <= 200_000 + 1_000_000 * elapsed / SECOND + 1);
            }
            assertFalse(sender.starved());
            final ByteBuffer wire = ByteBuffer.wrap(io.bytes());
            assertEquals(FrameHeader.HEADER_LENGTH + data.length, wire.remaining());
            final byte[] body = new byte[data.length];
            wire.position(FrameHeader.HEADER_LENGTH);
            wire.get(body);
            assertTrue(java.util.Arrays.equals(data, body), "every byte, in order");
        }
    }
}
