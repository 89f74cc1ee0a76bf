package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.verify.TreeComparator;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Stream;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.AckCodec;
import dev.ferry.core.protocol.CompleteCodec;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.FrameValidator;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.transport.TransportSettings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random and mutated frames against a LIVE donor ({@link DonorService} on loopback) and a LIVE client
 * ({@link CloneClient} against a raw-socket donor), over real sockets.
 * <ul>
 *   <li>Donor: each connection carries a valid prefix (none, HELLO, COM_CLONE, COM_INIT, COM_EXECUTE, or an ATTACH /
 *   REINIT of a snapshot seen earlier), a run of PINGs (accepted in every state), then one damaged frame. Many
 *   connections run at once from two selector threads. Each must end with a well-formed COM_RES_ERROR (code parsed
 *   by hand) or a plain close, never INTERNAL, and where the frame checks alone decide, with exactly the code they
 *   give. Afterwards an honest clone from the same donor is byte-identical, snapshots and connection slots are
 *   released, and threads and heap are back near where they started.</li>
 *   <li>Client: one CloneClient run per donor script; the script plays a valid handshake and manifest, then a long
 *   stream of PINGs and valid blocks with damaged frames in between. After each damaged frame a sentinel block on a
 *   fresh chunk must be acknowledged (the frame was accepted) or the client must end with a FerryException whose
 *   code fits, never INTERNAL, never another Throwable, never a hang; it writes nothing outside its target, leaves
 *   the target marked incomplete, and its threads are gone when run() returns.</li>
 * </ul>
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class LiveFuzzTest
{
    private static final long SEED = Long.getLong("ferry.fuzz.seed", 0x5EED_F00DL);
    private static final int DONOR_FRAMES = 100_000;
    private static final int CLIENT_FRAMES = 100_000;
    private static final int MAX_PROBLEMS = 25;

    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    // ------------------------------------------------------------------------------------------------------------
    // donor
    // ------------------------------------------------------------------------------------------------------------

    @Test
    void liveDonorAnswersHundredThousandFuzzedFramesWithErrorsOrClosesAndStaysHealthy() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final List<Throwable> unexpectedLog = new CopyOnWriteArrayList<>();
        final DonorService.Options options = new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK))
            .maxConnections(64)
            .maxClones(8)
            .restartWindowMs(2_000)
            .log((ex) ->
            {
                if (!(ex instanceof FerryException) || ((FerryException)ex).code() == ErrorCode.INTERNAL)
                {
                    unexpectedLog.add(ex);
                }
            });
        try (DonorService donor = new DonorService(src, RemoteTestSupport.loopbackAnyPort(), options).start())
        {
            // warm up: classes loaded, loops and one helper thread running, before the baseline
            honestClone(donor, src, base.resolve("warm-up"));
            RemoteTestSupport.awaitCloneCount(donor, 0, "the warm-up clone ended normally");
            final int threadsBefore = Thread.activeCount();
            final long heapBefore = FuzzSupport.usedHeapAfterGc();

            final long start = System.nanoTime();
            final DonorFuzzer fuzz = new DonorFuzzer(donor.address(), SEED);
            fuzz.run(2, 24, DONOR_FRAMES);
            final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            System.out.printf("LiveFuzzTest donor: %,d frames (%,d damaged, %,d PINGs, %,d prefix) on %,d connections " +
                "in %,d ms; %,d answers predicted from the frame checks and matched; outcomes %s; damage %s%n",
                fuzz.frames.get(), fuzz.mutants.get(), fuzz.pings.get(), fuzz.prefixFrames.get(), fuzz.connections.get(),
                ms, fuzz.oracleChecked.get(), new TreeMap<>(fuzz.outcomes), new TreeMap<>(fuzz.ops));

            assertEquals(List.of(), new ArrayList<>(fuzz.problems), "donor misbehaved (first " + MAX_PROBLEMS + ")");
            assertTrue(fuzz.frames.get() >= DONOR_FRAMES, "frames sent: " + fuzz.frames.get());
            assertTrue(fuzz.oracleChecked.get() > 1_000, "connections whose exact answer was predicted: " +
                fuzz.oracleChecked.get());
            assertTrue(fuzz.errorsSeen.get() > fuzz.connections.get() / 2, "COM_RES_ERROR answers: " +
                fuzz.errorsSeen.get());

            // snapshots the fuzz took are released (the restart window is 2 s) and no connection slot leaked
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
            while ((donor.cloneCount() != 0 || openConnections(donor) != 0) && System.nanoTime() < deadline)
            {
                Thread.sleep(50);
            }
            assertEquals(0, donor.cloneCount(), "snapshots held 8 s after the fuzz (restart window 2 s)");
            assertEquals(0, openConnections(donor), "connection slots the donor still counts as open");

            // the donor still serves a byte-identical clone
            honestClone(donor, src, base.resolve("after-fuzz"));
            RemoteTestSupport.awaitCloneCount(donor, 0, "the honest clone after the fuzz ended normally");

            final int threadsAfter = Thread.activeCount();
            final long heapAfter = FuzzSupport.usedHeapAfterGc();
            System.out.printf("LiveFuzzTest donor: threads %d -> %d, heap after GC %,d -> %,d bytes%n", threadsBefore,
                threadsAfter, heapBefore, heapAfter);
            assertTrue(threadsAfter <= threadsBefore + 8, "threads " + threadsBefore + " -> " + threadsAfter);
            assertTrue(heapAfter <= heapBefore + 64L * 1024 * 1024, "heap " + heapBefore + " -> " + heapAfter);
        }
        assertEquals(List.of(), unexpectedLog, "the donor reported failures that are not FerryExceptions, or INTERNAL");
    }

    static Stream<Arguments> fatalFramesAfterInit()
    {
        final byte[] badAck = FuzzSupport.ack(new int[][] { { 0, 1, 0 } });
        new UnsafeBuffer(badAck).putInt(FrameHeader.HEADER_LENGTH, 7, ByteOrder.LITTLE_ENDIAN);
        return Stream.of(
            Arguments.of("COM_ACK with a wrong count", badAck, ErrorCode.MALFORMED_FRAME),
            Arguments.of("frame type 77", FuzzSupport.empty(77), ErrorCode.UNKNOWN_COMMAND),
            Arguments.of("frame length 2^31-1", RemoteTestSupport.RawPeer.header(
                Integer.MAX_VALUE, FrameType.COM_ACK), ErrorCode.FRAME_TOO_LARGE),
            Arguments.of("COM_INIT again", FuzzSupport.versionInit(),
                ErrorCode.UNEXPECTED_COMMAND));
    }

    /**
     * A client that took a snapshot (COM_INIT) and then sends a frame the donor refuses with a non-restartable error
     * will never come back for that snapshot: the donor must release it at once, as it does for an out-of-order
     * command, instead of holding it (and a --max-clones slot) for the whole restart window (5 minutes by default).
     * With maxClones(1) a held snapshot locks every other client out.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("fatalFramesAfterInit")
    void snapshotIsReleasedAtOnceWhenTheDonorRefusesAFrameAfterComInit(final String name, final byte[] fatal,
        final int code) throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final DonorService.Options options = new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK))
            .maxClones(1);
        try (DonorService donor = new DonorService(src, RemoteTestSupport.loopbackAnyPort(), options).start())
        {
            try (RemoteTestSupport.RawPeer peer = ConcurrentCloneTest.holdCloneSlot(donor))
            {
                assertEquals(1, donor.cloneCount());
                peer.send(fatal);
                final RemoteTestSupport.Frame f = peer.read();
                assertTrue(f != null && f.type == FrameType.COM_RES_ERROR, "answer: " + f);
                assertEquals(ErrorCode.name(code), ErrorCode.name(f.errorCode()), f.errorMessage());
                assertTrue(peer.closedByPeer());
            }
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (donor.cloneCount() != 0 && System.nanoTime() < deadline)
            {
                Thread.sleep(10);
            }
            assertEquals(0, donor.cloneCount(), "2 s after refusing a client with " + ErrorCode.name(code) +
                ", its snapshot is still held (restart window " + DonorService.Options.RESTART_WINDOW_DEFAULT_MS + " ms)");
            honestClone(donor, src, base.resolve("next-client"));
        }
    }

    private static void honestClone(final DonorService donor, final Path src, final Path dst)
    {
        final CloneResult r = new CloneClient(donor.address(), dst, new CloneClient.Options().threads(2)
            .settings(new CloneSettings().sync(false))).run();
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        assertTrue(r.dataBytes() > 0, "bytes cloned");
        assertFalse(FileTreeRecipient.isIncomplete(dst));
    }

    /**
     * The donor's own count of open connections (what {@code maxConnections} is checked against).
     */
    static int openConnections(final DonorService donor) throws ReflectiveOperationException
    {
        final Field f = DonorService.class.getDeclaredField("connections");
        f.setAccessible(true);
        return ((AtomicInteger)f.get(donor)).get();
    }

    /**
     * Drives many fuzz connections at once from a few selector threads.
     */
    static final class DonorFuzzer
    {
        private final InetSocketAddress address;
        private final long seed;
        final AtomicLong frames = new AtomicLong();
        final AtomicLong mutants = new AtomicLong();
        final AtomicLong pings = new AtomicLong();
        final AtomicLong prefixFrames = new AtomicLong();
        final AtomicLong connections = new AtomicLong();
        final AtomicLong oracleChecked = new AtomicLong();
        final AtomicLong errorsSeen = new AtomicLong();
        final Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> ops = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        private final AtomicLongArray snapshots = new AtomicLongArray(16);
        private final AtomicInteger snapshotCursor = new AtomicInteger();

        DonorFuzzer(final InetSocketAddress address, final long seed)
        {
            this.address = address;
            this.seed = seed;
        }

        void run(final int threads, final int inFlight, final long frameTarget) throws Exception
        {
            final List<Thread> ts = new ArrayList<>();
            final List<Throwable> crashed = new CopyOnWriteArrayList<>();
            for (int i = 0; i < threads; i++)
            {
                final int index = i;
                final Thread t = new Thread(() ->
                {
                    try
                    {
                        drive(new SplittableRandom(seed * 31 + index), inFlight, frameTarget);
                    }
                    catch (final Throwable ex)
                    {
                        crashed.add(ex);
                    }
                }, "donor-fuzzer-" + i);
                ts.add(t);
                t.start();
            }
            for (final Thread t : ts)
            {
                t.join(TimeUnit.SECONDS.toMillis(100));
                assertFalse(t.isAlive(), "fuzzer thread did not finish");
            }
            if (!crashed.isEmpty())
            {
                throw new AssertionError("fuzzer thread failed", crashed.get(0));
            }
        }

        private void problem(final String s)
        {
            if (problems.size() < MAX_PROBLEMS)
            {
                problems.add(s);
            }
        }

        private static void count(final Map<String, AtomicLong> m, final String k)
        {
            m.computeIfAbsent(k, (x) -> new AtomicLong()).incrementAndGet();
        }

        /**
         * One connection: what it sends and what it expects.
         */
        final class Conn
        {
            final SocketChannel channel;
            final ByteBuffer out;
            final int level;
            final int verdict;
            final String op;
            final long started = System.nanoTime();
            byte[] in = new byte[8192];
            int n;

            Conn(final SocketChannel channel, final ByteBuffer out, final int level, final int verdict, final String op)
            {
                this.channel = channel;
                this.out = out;
                this.level = level;
                this.verdict = verdict;
                this.op = op;
            }
        }

        private long knownSnapshot(final SplittableRandom r)
        {
            final long s = snapshots.get(r.nextInt(snapshots.length()));
            return s != 0 ? s : r.nextLong();
        }

        private Conn open(final SplittableRandom r, final Selector selector) throws IOException
        {
            final List<byte[]> parts = new ArrayList<>();
            // valid prefix, by session level
            final int pick = r.nextInt(100);
            final int level = pick < 20 ? 0 : pick < 50 ? 1 : pick < 78 ? 2 : pick < 87 ? 3 : pick < 89 ? 4 : 5;
            if (level >= 1)
            {
                parts.add(FuzzSupport.clientHello());
            }
            if (level >= 2)
            {
                parts.add(FuzzSupport.empty(FrameType.COM_CLONE));
            }
            if (level == 3 || level == 4)
            {
                parts.add(FuzzSupport.versionInit());
            }
            if (level == 4)
            {
                parts.add(FuzzSupport.empty(FrameType.COM_EXECUTE));
            }
            if (level == 5)
            {
                final long snapshot = knownSnapshot(r);
                parts.add(r.nextBoolean() ?
                    FuzzSupport.locator(FrameType.COM_ATTACH, Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, snapshot,
                    r.nextInt(4), Stage.FILE_COPY)) :
                    FuzzSupport.locator(FrameType.COM_REINIT, FuzzSupport.restartLocator(r, snapshot)));
            }
            prefixFrames.addAndGet(parts.size());
            // PINGs, some with their reserved flags set (still valid)
            final int k = 4 + r.nextInt(16);
            for (int i = 0; i < k; i++)
            {
                final byte[] p = FuzzSupport.ping();
                if (r.nextInt(8) == 0)
                {
                    new UnsafeBuffer(p).putShort(FrameHeader.FLAGS_OFFSET, (short)r.nextInt(), ByteOrder.LITTLE_ENDIAN);
                }
                parts.add(p);
            }
            pings.addAndGet(k);
            // one damaged frame
            final FuzzSupport.Mutant m = FuzzSupport.mutate(r, FuzzSupport.randomTemplate(r, knownSnapshot(r)));
            parts.add(m.bytes);
            mutants.incrementAndGet();
            count(ops, m.op);
            frames.addAndGet(parts.size());

            final byte[] all = FuzzSupport.concat(parts.toArray(new byte[0][]));
            final SocketChannel ch = SocketChannel.open();
            ch.configureBlocking(false);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            final int verdict = level <= 2 ? FuzzSupport.frameVerdict(m.bytes, FuzzSupport.STAGING, -1) :
                FuzzSupport.VALID;
            final Conn c = new Conn(ch, ByteBuffer.wrap(all), level, verdict, m.op);
            if (ch.connect(address))
            {
                ch.register(selector, SelectionKey.OP_WRITE | SelectionKey.OP_READ, c);
            }
            else
            {
                ch.register(selector, SelectionKey.OP_CONNECT, c);
            }
            connections.incrementAndGet();
            return c;
        }

        private void drive(final SplittableRandom r, final int inFlight, final long frameTarget) throws IOException
        {
            try (Selector selector = Selector.open())
            {
                int active = 0;
                long lastDeadlineCheck = System.nanoTime();
                while (frames.get() < frameTarget || active > 0)
                {
                    while (active < inFlight && frames.get() < frameTarget)
                    {
                        open(r, selector);
                        active++;
                    }
                    selector.select(10);
                    final Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                    while (it.hasNext())
                    {
                        final SelectionKey key = it.next();
                        it.remove();
                        if (onReady(key))
                        {
                            active--;
                        }
                    }
                    final long now = System.nanoTime();
                    if (now - lastDeadlineCheck > TimeUnit.MILLISECONDS.toNanos(500))
                    {
                        lastDeadlineCheck = now;
                        for (final SelectionKey key : new ArrayList<>(selector.keys()))
                        {
                            final Conn c = (Conn)key.attachment();
                            if (key.isValid() && now - c.started > TimeUnit.SECONDS.toNanos(20))
                            {
                                problem("level " + c.level + " " + c.op + ": the donor neither answered nor closed " +
                                    "within 20 s (got " + c.n + " bytes)");
                                finish(key, c, "hung");
                                active--;
                            }
                        }
                    }
                }
            }
        }

        /**
         * @return true if the connection is finished.
         */
        private boolean onReady(final SelectionKey key)
        {
            final Conn c = (Conn)key.attachment();
            if (!key.isValid())
            {
                return false;
            }
            try
            {
                if (key.isConnectable())
                {
                    c.channel.finishConnect();
                    key.interestOps(SelectionKey.OP_WRITE | SelectionKey.OP_READ);
                    return false;
                }
                if (key.isWritable() && c.out.hasRemaining())
                {
                    try
                    {
                        c.channel.write(c.out);
                        if (!c.out.hasRemaining())
                        {
                            c.channel.shutdownOutput();
                            key.interestOps(SelectionKey.OP_READ);
                        }
                    }
                    catch (final IOException ex)
                    {
                        // the donor closed first: read what it said
                        c.out.position(c.out.limit());
                        key.interestOps(SelectionKey.OP_READ);
                    }
                }
                if (key.isValid() && key.isReadable())
                {
                    while (true)
                    {
                        if (c.n == c.in.length)
                        {
                            if (c.in.length >= 16 << 20)
                            {
                                problem("level " + c.level + ": more than 16 MiB of answer");
                                finish(key, c, "too-much");
                                return true;
                            }
                            c.in = Arrays.copyOf(c.in, c.in.length * 2);
                        }
                        final int got;
                        try
                        {
                            got = c.channel.read(ByteBuffer.wrap(c.in, c.n, c.in.length - c.n));
                        }
                        catch (final IOException ex)
                        {
                            finish(key, c, "reset");
                            return true;
                        }
                        if (got < 0)
                        {
                            finish(key, c, "eof");
                            return true;
                        }
                        if (got == 0)
                        {
                            break;
                        }
                        c.n += got;
                    }
                }
                return false;
            }
            catch (final IOException ex)
            {
                problem("level " + c.level + ": " + ex);
                finish(key, c, "io-error");
                return true;
            }
        }

        private void finish(final SelectionKey key, final Conn c, final String how)
        {
            key.cancel();
            try
            {
                c.channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            }
            catch (final IOException | RuntimeException ignore)
            {
                // closing anyway
            }
            try
            {
                c.channel.close();
            }
            catch (final IOException ignore)
            {
                // closing anyway
            }
            analyze(c, how);
        }

        private void analyze(final Conn c, final String how)
        {
            final List<String> local = new ArrayList<>();
            final List<FuzzSupport.Parsed> parsed = FuzzSupport.parseStream(c.in, c.n, local);
            int code = -1;
            String message = null;
            boolean truncated = false;
            boolean afterError = false;
            boolean sawHello = false;
            for (final FuzzSupport.Parsed f : parsed)
            {
                if (f.type == -1)
                {
                    truncated = true;
                    break;
                }
                if (afterError)
                {
                    local.add(FrameType.name(f.type) + " after COM_RES_ERROR");
                }
                switch (f.type)
                {
                    case FrameType.HELLO:
                        sawHello = true;
                        break;
                    case FrameType.COM_RES_LOCS:
                        if (f.length == FrameHeader.HEADER_LENGTH + LocatorCodec.FIXED_LENGTH)
                        {
                            final long s = ByteBuffer.wrap(c.in).order(ByteOrder.LITTLE_ENDIAN)
                                .getLong(f.bodyOffset + LocatorCodec.SNAPSHOT_OFFSET);
                            snapshots.set(Math.floorMod(snapshotCursor.getAndIncrement(), snapshots.length()), s);
                        }
                        break;
                    case FrameType.PING:
                    case FrameType.COM_RES_CONFIG:
                    case FrameType.COM_RES_DATA_DESC:
                    case FrameType.COM_RES_DATA:
                    case FrameType.COM_RES_COMPLETE:
                        break;
                    case FrameType.COM_RES_ERROR:
                        try
                        {
                            code = FuzzSupport.errorCode(c.in, f);
                            message = FuzzSupport.errorMessage(c.in, f);
                        }
                        catch (final AssertionError ex)
                        {
                            local.add("malformed COM_RES_ERROR body: " + ex.getMessage());
                        }
                        afterError = true;
                        break;
                    default:
                        local.add("a donor may not send " + FrameType.name(f.type));
                        break;
                }
            }
            if (truncated && "eof".equals(how))
            {
                local.add("the donor closed in the middle of a frame");
            }
            if (code != -1)
            {
                errorsSeen.incrementAndGet();
                count(outcomes, ErrorCode.name(code));
                if (code <= ErrorCode.OK || code > ErrorCode.CANCELLED || code == ErrorCode.INTERNAL)
                {
                    local.add("COM_RES_ERROR with code " + ErrorCode.name(code) + ": " + message);
                }
                if (message == null || message.isEmpty())
                {
                    local.add("COM_RES_ERROR " + ErrorCode.name(code) + " without a message");
                }
            }
            else
            {
                count(outcomes, "closed:" + how);
            }
            final boolean refusedAtAccept = code == ErrorCode.TOO_MANY_CLONES && !sawHello;
            if (c.level <= 2 && !refusedAtAccept && c.verdict != FuzzSupport.VALID)
            {
                oracleChecked.incrementAndGet();
                if (c.level >= 1 && !sawHello)
                {
                    local.add("no HELLO in answer to a valid HELLO");
                }
                if (c.verdict == FuzzSupport.INCOMPLETE && code != -1)
                {
                    local.add("an incomplete frame then end of stream was answered with " + ErrorCode.name(code) +
                        " (" + message + ")");
                }
                if (c.verdict >= 0 && code != c.verdict)
                {
                    local.add("expected COM_RES_ERROR " + ErrorCode.name(c.verdict) + ", got " +
                        (code == -1 ? "a close (" + how + ")" : ErrorCode.name(code) + " (" + message + ")"));
                }
            }
            if (!local.isEmpty())
            {
                problem("level " + c.level + ", damage " + c.op + ": " + local);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // client
    // ------------------------------------------------------------------------------------------------------------

    /** Codes a client may end with against a hostile donor (besides a code the donor sent in COM_RES_ERROR). */
    private static final Set<Integer> CLIENT_CODES = Set.of(
        ErrorCode.MALFORMED_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.UNKNOWN_COMMAND, ErrorCode.UNEXPECTED_COMMAND,
        ErrorCode.VERSION_MISMATCH, ErrorCode.BAD_LOCATOR, ErrorCode.CONFIG_MISMATCH, ErrorCode.IO_ERROR,
        ErrorCode.PATH_REFUSED, ErrorCode.CHECKSUM_MISMATCH, ErrorCode.AUTH_FAILED, ErrorCode.NOT_FERRY,
        ErrorCode.TIMEOUT, ErrorCode.NETWORK, ErrorCode.BAD_DESCRIPTOR);

    @Test
    void liveClientEndsEveryFuzzedStreamWithASensibleFerryExceptionAndWritesOnlyItsTarget() throws Exception
    {
        final Path escape = Path.of("/tmp/ferry-escape");
        final boolean escapeExisted = Files.exists(escape, LinkOption.NOFOLLOW_LINKS);
        final ClientStats stats = new ClientStats();
        final ExecutorService clientPool = Executors.newSingleThreadExecutor((r) -> new Thread(r, "fuzz-clone-runner"));
        final ExecutorService readerPool = Executors.newSingleThreadExecutor((r) -> new Thread(r, "fuzz-client-reader"));
        final long start = System.nanoTime();
        try (ServerSocket server = new ServerSocket())
        {
            server.bind(RemoteTestSupport.loopbackAnyPort());
            server.setSoTimeout(10_000);
            final SplittableRandom r = new SplittableRandom(SEED ^ 0xC11E_47L);
            int run = 0;
            while ((stats.confirmed < CLIENT_FRAMES || run < 200) && run < 600)
            {
                new ClientRun(r, run, server, clientPool, readerPool, stats, base.resolve("run-" + run)).play();
                run++;
            }
            stats.runs = run;
        }
        finally
        {
            clientPool.shutdownNow();
            readerPool.shutdownNow();
            assertTrue(clientPool.awaitTermination(10, TimeUnit.SECONDS));
            assertTrue(readerPool.awaitTermination(10, TimeUnit.SECONDS));
        }
        final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("LiveFuzzTest client: %d runs, %,d frames written, %,d confirmed processed (%,d damaged, " +
            "%,d accepted), in %,d ms; outcomes %s; damage %s%n", stats.runs, stats.written, stats.confirmed,
            stats.mutants, stats.mutantsAccepted, ms, new TreeMap<>(stats.outcomes), new TreeMap<>(stats.ops));
        assertEquals(List.of(), stats.problems, "client misbehaved (first " + MAX_PROBLEMS + ")");
        assertTrue(stats.confirmed >= CLIENT_FRAMES, "frames the client processed: " + stats.confirmed);
        assertTrue(escapeExisted || !Files.exists(escape, LinkOption.NOFOLLOW_LINKS), escape + " was created");
        for (final String p : FuzzSupport.walk(base))
        {
            assertTrue(p.startsWith("run-"), "written outside the runs' directories: " + p);
        }
    }

    static final class ClientStats
    {
        int runs;
        long written;
        long confirmed;
        long mutants;
        long mutantsAccepted;
        final Map<String, Long> outcomes = new TreeMap<>();
        final Map<String, Long> ops = new TreeMap<>();
        final List<String> problems = new ArrayList<>();

        void problem(final String s)
        {
            if (problems.size() < MAX_PROBLEMS)
            {
                problems.add(s);
            }
        }
    }

    /**
     * What the scripted donor reads from the client on its own thread.
     */
    static final class ClientSide implements Runnable
    {
        static final int ACKED = 1;
        static final int GONE = 0;
        static final int WAITING = -1;

        private final DataInputStream in;
        private final Set<Integer> acked = new HashSet<>();
        private final List<String> problems = new ArrayList<>();
        private int exitCode = -1;
        private boolean closed;

        ClientSide(final DataInputStream in)
        {
            this.in = in;
        }

        @Override
        public void run()
        {
            final FrameValidator validator = new FrameValidator(FuzzSupport.CAP);
            try
            {
                while (true)
                {
                    final byte[] h = new byte[FrameHeader.HEADER_LENGTH];
                    in.readFully(h);
                    final int length = FuzzSupport.intLE(h, 0);
                    final int type = FuzzSupport.typeOf(h);
                    if (length < FrameHeader.HEADER_LENGTH || length > 1 << 20)
                    {
                        synchronized (this)
                        {
                            problems.add("client sent a header with length " + length + " type " + type);
                        }
                        return;
                    }
                    final byte[] f = Arrays.copyOf(h, length);
                    in.readFully(f, FrameHeader.HEADER_LENGTH, length - FrameHeader.HEADER_LENGTH);
                    final int verdict = validator.validate(new UnsafeBuffer(f), 0, length);
                    synchronized (this)
                    {
                        if (verdict != ErrorCode.OK)
                        {
                            problems.add("client sent a " + FrameType.name(type) + " frame that fails validation with " +
                                ErrorCode.name(verdict));
                        }
                        else if (type == FrameType.COM_ACK)
                        {
                            final UnsafeBuffer b = new UnsafeBuffer(f);
                            for (int i = 0, n = AckCodec.count(b, 8); i < n; i++)
                            {
                                acked.add(AckCodec.chunk(b, 8, i));
                            }
                        }
                        else if (type == FrameType.COM_EXIT)
                        {
                            exitCode = FuzzSupport.intLE(f, 8);
                        }
                        else if (type != FrameType.PING)
                        {
                            problems.add("client sent " + FrameType.name(type) + " while streaming");
                        }
                        notifyAll();
                    }
                }
            }
            catch (final IOException ex)
            {
                // end of stream or reset: the client is gone
            }
            finally
            {
                synchronized (this)
                {
                    closed = true;
                    notifyAll();
                }
            }
        }

        /**
         * @return {@link #ACKED} when {@code chunk} was acknowledged, {@link #GONE} when the client closed or exited
         * first, {@link #WAITING} if neither happened in time (a damaged header announced more bytes than were sent,
         * so the client is still reading that frame: the frames after it are its body).
         */
        synchronized void forget(final int chunk)
        {
            acked.remove(chunk);
        }

        synchronized int awaitAck(final int chunk, final long timeoutMs) throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            while (!acked.contains(chunk) && !closed && exitCode == -1)
            {
                final long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0)
                {
                    return WAITING;
                }
                wait(left);
            }
            return acked.contains(chunk) ? ACKED : GONE;
        }

        synchronized boolean gone()
        {
            return closed || exitCode != -1;
        }

        synchronized boolean awaitClosed(final long timeoutMs) throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            while (!closed && System.nanoTime() < deadline)
            {
                wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
            return closed;
        }

        synchronized int exitCode()
        {
            return exitCode;
        }

        synchronized List<String> problems()
        {
            return new ArrayList<>(problems);
        }
    }

    /**
     * An entry of the manifest a run announces.
     */
    static final class Entry
    {
        final int type;
        final String path;
        final byte[] data;
        final String link;

        Entry(final int type, final String path, final byte[] data, final String link)
        {
            this.type = type;
            this.path = path;
            this.data = data;
            this.link = link;
        }
    }

    /**
     * One CloneClient run against a donor scripted on a raw socket: a valid handshake and manifest, then a long
     * stream of PINGs and valid blocks with a few damaged frames near its end, each followed by a sentinel block on a
     * fresh chunk whose acknowledgement proves every frame before it was processed.
     */
    static final class ClientRun
    {
        private static final int BLOCK = 65_536;
        private static final int SENTINEL_FILE = 1;
        private static final byte[] SENTINEL_BYTES = RemoteTestSupport.random(77, 16);
        private static final long SNAPSHOT = 0x0F0F_1234_5678_9ABCL;
        private static final long MTIME = 1_600_000_000_123_456_789L;

        private final SplittableRandom r;
        private final int index;
        private final ServerSocket server;
        private final ExecutorService clientPool;
        private final ExecutorService readerPool;
        private final ClientStats stats;
        private final Path parent;
        private final Path target;
        private final Path outside;
        private final List<Entry> entries = new ArrayList<>();
        private final List<Integer> regular = new ArrayList<>();
        private final Set<Integer> errorCodesSent = new HashSet<>();
        private OutputStream out;
        private ClientSide side;
        private long written;
        private long confirmed;
        private boolean validCompleteSent;
        private String lastMutant = "none";
        private boolean damageSent;
        private int mutantsAccepted;

        ClientRun(final SplittableRandom r, final int index, final ServerSocket server, final ExecutorService clientPool,
            final ExecutorService readerPool, final ClientStats stats, final Path parent)
        {
            this.r = r;
            this.index = index;
            this.server = server;
            this.clientPool = clientPool;
            this.readerPool = readerPool;
            this.stats = stats;
            this.parent = parent;
            this.target = parent.resolve("target");
            this.outside = parent.resolve("outside");
        }

        void play() throws Exception
        {
            Files.createDirectories(outside);
            final CloneClient.Options options = new CloneClient.Options().threads(1).maxRestarts(0).poolBuffers(4)
                .settings(new CloneSettings().sync(false))
                .transport(new TransportSettings().readTimeoutMs(3_000).heartbeatMs(500));
            final CloneClient client = new CloneClient(
                new InetSocketAddress(RemoteTestSupport.LOOPBACK, server.getLocalPort()), target, options);
            final Future<Object> outcome = clientPool.submit(() ->
            {
                try
                {
                    return client.run();
                }
                catch (final Throwable t)
                {
                    return t;
                }
            });
            try (Socket s = server.accept())
            {
                s.setTcpNoDelay(true);
                s.setSoTimeout(10_000);
                final DataInputStream in = new DataInputStream(s.getInputStream());
                out = new BufferedOutputStream(s.getOutputStream(), 1 << 16);
                try
                {
                    script(in);
                    out.flush();
                }
                catch (final IOException ex)
                {
                    // the client closed while the script was still writing
                }
                try
                {
                    s.shutdownOutput();
                }
                catch (final IOException ignore)
                {
                    // already closed
                }
                if (side != null)
                {
                    if (!side.awaitClosed(15_000))
                    {
                        stats.problem(context() + ": the client did not close within 15 s of the end of the stream");
                    }
                }
                else
                {
                    drain(in);
                }
            }
            Object result;
            try
            {
                result = outcome.get(20, TimeUnit.SECONDS);
            }
            catch (final TimeoutException ex)
            {
                outcome.cancel(true);
                stats.problem(context() + ": CloneClient.run() did not return within 20 s of the end of the stream");
                return;
            }
            check(result);
        }

        private String context()
        {
            return "run " + index + " (last damage: " + lastMutant + ")";
        }

        private static void drain(final DataInputStream in)
        {
            final byte[] sink = new byte[8192];
            try
            {
                while (in.read(sink) >= 0)
                {
                    // until the client closes
                }
            }
            catch (final IOException ignore)
            {
                // reset or timeout: the client is gone or stuck; run() tells which
            }
        }

        private static byte[] readFrame(final DataInputStream in, final int expectedType) throws IOException
        {
            while (true)
            {
                final byte[] h = new byte[FrameHeader.HEADER_LENGTH];
                in.readFully(h);
                final int length = FuzzSupport.intLE(h, 0);
                assertTrue(length >= FrameHeader.HEADER_LENGTH && length <= 1 << 20, "client frame length " + length);
                final byte[] f = Arrays.copyOf(h, length);
                in.readFully(f, FrameHeader.HEADER_LENGTH, length - FrameHeader.HEADER_LENGTH);
                assertEquals(ErrorCode.name(ErrorCode.OK), ErrorCode.name(new FrameValidator(FuzzSupport.CAP)
                    .validate(new UnsafeBuffer(f), 0, length)), "client frame " + FrameType.name(FuzzSupport.typeOf(f)));
                if (FuzzSupport.typeOf(f) == FrameType.PING)
                {
                    continue;
                }
                assertEquals(FrameType.name(expectedType), FrameType.name(FuzzSupport.typeOf(f)));
                return f;
            }
        }

        private void send(final byte[] frame) throws IOException
        {
            out.write(frame);
            written++;
        }

        private void sendMutant(final byte[] template) throws IOException
        {
            final FuzzSupport.Mutant m = FuzzSupport.mutate(r, template);
            sendBytesOfMutant(m.bytes, m.op + " of " + FrameType.name(m.templateType));
        }

        private void sendBytesOfMutant(final byte[] bytes, final String op) throws IOException
        {
            lastMutant = op;
            damageSent = true;
            stats.mutants++;
            stats.ops.merge(op.substring(0, op.indexOf(' ') < 0 ? op.length() : op.indexOf(' ')), 1L, Long::sum);
            final int type = FuzzSupport.typeOf(bytes);
            if (type == FrameType.COM_RES_ERROR && bytes.length >= FrameHeader.HEADER_LENGTH + 4)
            {
                // a damaged COM_RES_ERROR may still reach the client whole: its length can make the frames after it
                // its message. Whatever code it carries is the donor's word, and the client reports it as such.
                errorCodesSent.add(FuzzSupport.intLE(bytes, FrameHeader.HEADER_LENGTH));
            }
            if (type == FrameType.COM_RES_COMPLETE && bytes.length >= 4 &&
                FuzzSupport.intLE(bytes, 0) == FrameHeader.HEADER_LENGTH + CompleteCodec.LENGTH)
            {
                // well-formed, or completed by the bytes that follow it
                validCompleteSent = true;
            }
            out.write(bytes);
            written++;
        }

        private void script(final DataInputStream in) throws Exception
        {
            final byte[] hello = readFrame(in, FrameType.HELLO);
            assertEquals(HelloCodec.ROLE_CLIENT, FuzzSupport.intLE(hello, FrameHeader.HEADER_LENGTH + HelloCodec.ROLE_OFFSET));
            final int attack = r.nextInt(20);
            if (attack == 0)
            {
                sendMutant(r.nextInt(4) == 0 ? FuzzSupport.randomTemplate(r, SNAPSHOT) : FuzzSupport.donorHello());
                return;
            }
            send(FuzzSupport.donorHello());
            out.flush();
            readFrame(in, FrameType.COM_CLONE);
            readFrame(in, FrameType.COM_INIT);
            final byte[] locs = FuzzSupport.locator(FrameType.COM_RES_LOCS,
                Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, SNAPSHOT, 0, Stage.METADATA));
            final byte[] config = FuzzSupport.config(FuzzSupport.donorConfig(0));
            if (attack == 1)
            {
                sendMutant(locs);
                send(config);
                return;
            }
            send(locs);
            if (attack == 2)
            {
                sendMutant(config);
                return;
            }
            send(config);
            out.flush();
            assertEquals(FrameHeader.HEADER_LENGTH + dev.ferry.core.protocol.ExecuteFlags.LENGTH,
                readFrame(in, FrameType.COM_EXECUTE).length); // the LIVE flag
            side = new ClientSide(in);
            readerPool.submit(side);
            manifest(attack <= 5);
            stream();
        }

        private void manifest(final boolean attack) throws Exception
        {
            entries.add(new Entry(DescriptorFlyweight.FILE_DIRECTORY, "d", new byte[0], ""));
            entries.add(new Entry(DescriptorFlyweight.FILE_REGULAR, "sentinel", SENTINEL_BYTES, ""));
            final int extra = 1 + r.nextInt(6);
            for (int i = 0; i < extra; i++)
            {
                final int n = entries.size();
                switch (r.nextInt(4))
                {
                    case 0:
                        entries.add(new Entry(DescriptorFlyweight.FILE_DIRECTORY, "d/s" + n, new byte[0], ""));
                        break;
                    case 3:
                        entries.add(new Entry(DescriptorFlyweight.FILE_SYMLINK, "l" + n, new byte[0],
                            r.nextBoolean() ? "../outside" : "/tmp/ferry-escape"));
                        break;
                    default:
                        entries.add(new Entry(DescriptorFlyweight.FILE_REGULAR, (r.nextBoolean() ? "d/f" : "f") + n,
                            RemoteTestSupport.random(r.nextLong(), r.nextInt(8) == 0 ? 0 : 1 + r.nextInt(4000)), ""));
                        break;
                }
            }
            long bytes = 0;
            for (int i = 0; i < entries.size(); i++)
            {
                if (entries.get(i).type == DescriptorFlyweight.FILE_REGULAR && entries.get(i).data.length > 0)
                {
                    regular.add(i);
                    bytes += entries.get(i).data.length;
                }
            }
            final int attackAt = attack ? r.nextInt(entries.size() + 1) : -1;
            send(FuzzSupport.state(Stage.METADATA, entries.size(), regular.size(), bytes, BLOCK));
            for (int i = 0; i < entries.size(); i++)
            {
                if (i == attackAt)
                {
                    sendMetadataAttack();
                }
                send(fileDescriptor(i));
            }
            if (attackAt == entries.size())
            {
                sendMetadataAttack();
            }
            send(FuzzSupport.state(Stage.FILE_COPY, entries.size(), regular.size(), bytes, BLOCK));
            for (final int i : regular)
            {
                sendData(i);
            }
            if (attack)
            {
                out.flush();
                if (sync(1_000))
                {
                    mutantsAccepted++;
                }
            }
        }

        private byte[] fileDescriptor(final int i)
        {
            final Entry e = entries.get(i);
            return FuzzSupport.file(i, e.data.length, MTIME, e.type == DescriptorFlyweight.FILE_DIRECTORY ? 0755 : 0644,
                e.type, Math.max(0, chunkOf(i)), e.data.length > 0 ? 1 : 0, FuzzSupport.utf8(e.path), FuzzSupport.utf8(e.link));
        }

        /**
         * With files_per_chunk=1 the client lays out one chunk per non-empty regular file, in manifest order.
         */
        private int chunkOf(final int fileIndex)
        {
            return regular.indexOf(fileIndex);
        }

        /**
         * Half the time a well-formed but hostile descriptor (a path to refuse, a repeated entry, absurd counts), half
         * the time a damaged one.
         */
        private void sendMetadataAttack() throws IOException
        {
            if (r.nextBoolean())
            {
                final byte[] f = metadataTemplate();
                sendBytesOfMutant(f, "well-formed " + FrameType.name(FuzzSupport.typeOf(f)) + " in the manifest");
            }
            else
            {
                sendMutant(metadataTemplate());
            }
        }

        private byte[] metadataTemplate()
        {
            switch (r.nextInt(6))
            {
                case 0:
                    // a path that must be refused, under any index
                    return FuzzSupport.file(r.nextInt(entries.size() + 2), 10, MTIME, 0644, 1 + r.nextInt(3), 0, 1,
                        FuzzSupport.utf8(FuzzSupport.HOSTILE_PATHS[r.nextInt(FuzzSupport.HOSTILE_PATHS.length)]),
                        new byte[0]);
                case 1:
                    return fileDescriptor(r.nextInt(entries.size()));
                case 2:
                    return FuzzSupport.state(r.nextInt(5), FuzzSupport.boundaryOrRandomLong(r) & Long.MAX_VALUE,
                        FuzzSupport.boundaryOrRandomLong(r) & Long.MAX_VALUE, r.nextInt(1000), BLOCK);
                case 3:
                    return FuzzSupport.file(entries.size() + r.nextInt(3), 5, MTIME, 0644, DescriptorFlyweight.FILE_REGULAR,
                        0, 1, FuzzSupport.utf8("extra" + r.nextInt(100)), new byte[0]);
                default:
                    return FuzzSupport.randomTemplate(r, SNAPSHOT);
            }
        }

        private void sendData(final int fileIndex) throws IOException
        {
            final byte[] data = entries.get(fileIndex).data;
            send(FuzzSupport.dataDescriptor(fileIndex, chunkOf(fileIndex), 0, 0, data.length, FuzzSupport.crc(data),
                DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC));
            send(FuzzSupport.dataFrame(data));
        }

        /**
         * A block of the sentinel file on a chunk never used before, then wait for its acknowledgement.
         *
         * @return true if it was acknowledged: the client processed every frame written so far.
         */
        private boolean sync() throws Exception
        {
            return sync(5_000);
        }

        private boolean sync(final long timeoutMs) throws Exception
        {
            final int chunk = chunkOf(SENTINEL_FILE);
            side.forget(chunk); // the sentinel chunk is sent again each time: only a new acknowledgement counts
            send(FuzzSupport.dataDescriptor(SENTINEL_FILE, chunk, 0, 0, SENTINEL_BYTES.length,
                FuzzSupport.crc(SENTINEL_BYTES), DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC));
            send(FuzzSupport.dataFrame(SENTINEL_BYTES));
            out.flush();
            final int result = side.awaitAck(chunk, timeoutMs);
            if (result == ClientSide.ACKED)
            {
                confirmed = written;
                return true;
            }
            if (result == ClientSide.WAITING)
            {
                stats.outcomes.merge("(client still reading a frame after: " + lastMutant + ")", 1L, Long::sum);
            }
            return false;
        }

        private byte[] streamTemplate()
        {
            final int file = regular.get(r.nextInt(regular.size()));
            final byte[] data = entries.get(file).data;
            switch (r.nextInt(10))
            {
                case 0:
                    return FuzzSupport.dataDescriptor(file, chunkOf(file), 0, 0, data.length, FuzzSupport.crc(data),
                        DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC);
                case 1:
                    return FuzzSupport.dataFrame(data);
                case 2:
                    return fileDescriptor(r.nextInt(entries.size()));
                case 3:
                    return FuzzSupport.state(r.nextInt(5), entries.size(), regular.size(), 0, BLOCK);
                case 4:
                    return FuzzSupport.complete(Stage.FILE_COPY, 0, r.nextInt(100_000));
                case 5:
                    return FuzzSupport.error(FrameType.COM_RES_ERROR, 1 + r.nextInt(25), "fuzzed donor error");
                case 6:
                    return FuzzSupport.ping();
                default:
                    return FuzzSupport.randomTemplate(r, SNAPSHOT);
            }
        }

        private void sendStreamMutant() throws IOException
        {
            final int file = regular.get(r.nextInt(regular.size()));
            final byte[] data = entries.get(file).data;
            final int kind = r.nextInt(4);
            if (kind == 0)
            {
                // a block whose descriptor is damaged, followed by its bytes
                final FuzzSupport.Mutant m = FuzzSupport.mutate(r, FuzzSupport.dataDescriptor(file, chunkOf(file), 0, 0, data.length,
                    FuzzSupport.crc(data), DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC));
                sendBytesOfMutant(m.bytes, m.op + " of DATA descriptor (with its block)");
                send(FuzzSupport.dataFrame(data));
            }
            else if (kind == 1)
            {
                // a good descriptor, then damaged bytes
                send(FuzzSupport.dataDescriptor(file, chunkOf(file), 0, 0, data.length, FuzzSupport.crc(data),
                    DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC));
                final FuzzSupport.Mutant m = FuzzSupport.mutate(r, FuzzSupport.dataFrame(data));
                sendBytesOfMutant(m.bytes, m.op + " of COM_RES_DATA (after its descriptor)");
            }
            else
            {
                sendMutant(streamTemplate());
            }
        }

        private void stream() throws Exception
        {
            if (!sync())
            {
                return;
            }
            final int budget = 300 + r.nextInt(700);
            final int[] damageAt = new int[1 + r.nextInt(4)];
            for (int i = 0; i < damageAt.length; i++)
            {
                damageAt[i] = budget * 3 / 5 + r.nextInt(budget * 2 / 5);
            }
            Arrays.sort(damageAt);
            int next = 0;
            int sinceSync = 0;
            for (int i = 0; i < budget; i++)
            {
                if (next < damageAt.length && i == damageAt[next])
                {
                    next++;
                    sendStreamMutant();
                    if (!sync(1_000))
                    {
                        return;
                    }
                    mutantsAccepted++;
                    sinceSync = 0;
                    continue;
                }
                if (r.nextInt(100) < 55)
                {
                    send(FuzzSupport.ping());
                    sinceSync++;
                }
                else
                {
                    sendData(regular.get(r.nextInt(regular.size())));
                    sinceSync += 2;
                }
                if (sinceSync >= 256)
                {
                    if (!sync())
                    {
                        // a damaged frame the client took may still end it later (a corrupt block fails in the apply
                        // worker after the sentinel went through); without one, valid frames must never stop it
                        if (!damageSent)
                        {
                            stats.problem(context() + ": the client stopped on valid frames");
                        }
                        return;
                    }
                    sinceSync = 0;
                }
            }
            // the last damaged frame of the run, then the end of the stream
            sendStreamMutant();
        }

        private void check(final Object result) throws IOException, InterruptedException
        {
            stats.written += written;
            stats.confirmed += confirmed;
            stats.mutantsAccepted += mutantsAccepted;
            final String ctx = context();
            if (result instanceof CloneResult)
            {
                stats.outcomes.merge("success", 1L, Long::sum);
                if (!validCompleteSent)
                {
                    stats.problem(ctx + ": run() returned success though the donor never sent a valid COM_RES_COMPLETE");
                }
                if (FileTreeRecipient.isIncomplete(target))
                {
                    stats.problem(ctx + ": a successful clone left " + ManifestScanner.STATE_DIR);
                }
            }
            else if (result instanceof FerryException)
            {
                final FerryException ex = (FerryException)result;
                stats.outcomes.merge(ErrorCode.name(ex.code()), 1L, Long::sum);
                if (!CLIENT_CODES.contains(ex.code()) && !errorCodesSent.contains(ex.code()))
                {
                    stats.problem(ctx + ": run() failed with " + ex.describe());
                }
                if (ex.getMessage() == null || ex.getMessage().isEmpty())
                {
                    stats.problem(ctx + ": " + ErrorCode.name(ex.code()) + " without a message");
                }
                if (side != null && side.exitCode() > 0 && side.exitCode() != ex.code())
                {
                    stats.problem(ctx + ": the client told the donor " + ErrorCode.name(side.exitCode()) +
                        " in COM_EXIT but run() threw " + ex.describe());
                }
                if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !FileTreeRecipient.isIncomplete(target))
                {
                    stats.problem(ctx + ": a failed clone left a target without the incomplete marker");
                }
                if (!FuzzSupport.symlinks(target).isEmpty())
                {
                    stats.problem(ctx + ": a failed clone created symlinks " + FuzzSupport.symlinks(target));
                }
            }
            else
            {
                final StringWriter w = new StringWriter();
                ((Throwable)result).printStackTrace(new PrintWriter(w));
                stats.problem(ctx + ": run() threw something other than a FerryException: " + w);
            }
            if (side != null)
            {
                for (final String p : side.problems())
                {
                    stats.problem(ctx + ": " + p);
                }
            }
            final Set<String> top = new HashSet<>();
            try (Stream<Path> s = Files.list(parent))
            {
                s.forEach((p) -> top.add(p.getFileName().toString()));
            }
            if (!Set.of("target", "outside").containsAll(top))
            {
                stats.problem(ctx + ": written next to the target: " + top);
            }
            if (!FuzzSupport.walk(outside).isEmpty())
            {
                stats.problem(ctx + ": written outside the target: " + FuzzSupport.walk(outside));
            }
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (!FuzzSupport.clientThreads().isEmpty() && System.nanoTime() < deadline)
            {
                Thread.sleep(2);
            }
            if (!FuzzSupport.clientThreads().isEmpty())
            {
                stats.problem(ctx + ": threads left after run() returned: " + FuzzSupport.clientThreads());
            }
        }
    }
}
