package dev.ferry.jmh;

import java.util.concurrent.TimeUnit;

import org.jctools.queues.MpscArrayQueue;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The apply hand-off: a connection thread offers pooled block buffers to an apply worker through a JCTools
 * {@link MpscArrayQueue} (capacity 1024) and the worker polls them, one producer and one consumer thread as a JMH
 * {@code @Group}. Every block of a clone crosses this queue (and a second one back), so its cost per element must be
 * negligible next to the CRC32C and the write of a block.
 * <p>
 * The primary score counts every call, including an {@code offer} on a full queue and a {@code poll} on an empty
 * one, as JCTools' own throughput benchmarks do; the secondary counters {@code offersMade} and {@code pollsMade}
 * are the real hand-off rate, {@code offersFailed} and {@code pollsFailed} show which side waited.
 * Needs two free cores to mean anything.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class QueueBenchmark
{
    /** Capacity of the queue, as for an apply worker. */
    static final int CAPACITY = 1024;

    /** Stands for a pooled block buffer: always the same object, nothing is allocated per hand-off. */
    private static final Object BLOCK = new Object();

    private MpscArrayQueue<Object> queue;

    /**
     * Producer-side counts, per thread and reset every iteration.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class OfferCounters
    {
        public long offersMade;
        public long offersFailed;
    }

    /**
     * Consumer-side counts, per thread and reset every iteration.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class PollCounters
    {
        public long pollsMade;
        public long pollsFailed;
    }

    @Setup(Level.Trial)
    public void setup()
    {
        queue = new MpscArrayQueue<>(CAPACITY);
    }

    /**
     * Start every iteration from an empty queue, so one iteration's backlog does not count in the next.
     */
    @TearDown(Level.Iteration)
    public void drain()
    {
        queue.clear();
    }

    /**
     * The connection thread: hand one block to the worker.
     */
    @Benchmark
    @Group("handoff")
    @GroupThreads(1)
    public boolean offer(final OfferCounters counters)
    {
        final boolean offered = queue.offer(BLOCK);
        if (offered)
        {
            counters.offersMade++;
        }
        else
        {
            counters.offersFailed++;
        }
        return offered;
    }

    /**
     * The apply worker: take one block, if any.
     */
    @Benchmark
    @Group("handoff")
    @GroupThreads(1)
    public Object poll(final PollCounters counters)
    {
        final Object block = queue.poll();
        if (block != null)
        {
            counters.pollsMade++;
        }
        else
        {
            counters.pollsFailed++;
        }
        return block;
    }
}
