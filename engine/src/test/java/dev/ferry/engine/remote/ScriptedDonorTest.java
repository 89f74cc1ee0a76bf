package dev.ferry.engine.remote;

import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.recipient.FileTreeRecipient;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.CompleteCodec;
import dev.ferry.core.protocol.ConfigCodec;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.transport.TransportSettings;

import static dev.ferry.engine.remote.RemoteTestSupport.RawPeer.frame;
import static dev.ferry.engine.remote.RemoteTestSupport.RawPeer.locatorFrame;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against a donor played frame by frame from a script on a raw socket: the frames the client sends in a
 * normal clone (PROTOCOL.md 6.1, down to the final COM_ACK and COM_EXIT), and how it fails when the donor breaks the
 * session rules, sends unusable values, reports an error, or vanishes.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ScriptedDonorTest
{
    private static final int BLOCK = RemoteTestSupport.BLOCK;
    private static final long SNAPSHOT = 0x0123_4567_89AB_CDEFL;
    private static final Duration BOUND = Duration.ofSeconds(15);

    @TempDir
    Path base;

    /**
     * What the scripted donor does on the one connection it accepts.
     */
    interface Script
    {
        void run(RemoteTestSupport.RawPeer peer) throws Exception;
    }

    /**
     * Accepts one connection and plays a script on it; keeps the socket open until closed.
     */
    static final class ScriptedDonor implements AutoCloseable
    {
        private final ServerSocket server;
        private final Thread thread;
        private volatile Throwable failure;
        private volatile Socket socket;
        private volatile boolean done;

        ScriptedDonor(final Script script) throws IOException
        {
            server = new ServerSocket();
            server.bind(RemoteTestSupport.loopbackAnyPort());
            thread = new Thread(() ->
            {
                try
                {
                    socket = server.accept();
                    // one connection only: a client that reconnects (to restart) finds the port closed
                    server.close();
                    script.run(new RemoteTestSupport.RawPeer(socket, 10_000));
                    done = true;
                }
                catch (final Throwable t)
                {
                    failure = t;
                }
            }, "scripted-donor");
            thread.setDaemon(true);
            thread.start();
        }

        InetSocketAddress address()
        {
            return new InetSocketAddress(RemoteTestSupport.LOOPBACK, server.getLocalPort());
        }

        /**
         * Wait for the script to end and fail the test if it failed.
         */
        void assertScriptPassed() throws Exception
        {
            thread.join(10_000);
            if (failure instanceof Exception)
            {
                throw (Exception)failure;
            }
            if (failure instanceof Error)
            {
                throw (Error)failure;
            }
            assertTrue(done, "the donor script did not finish");
        }

        @Override
        public void close() throws IOException
        {
            server.close();
            final Socket s = socket;
            if (s != null)
            {
                s.close();
            }
            try
            {
                thread.join(5_000);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static CloneClient.Options client()
    {
        return new CloneClient.Options().threads(1).settings(new CloneSettings().sync(false))
            .transport(new TransportSettings().readTimeoutMs(5_000).heartbeatMs(200));
    }

    static Map<String, String> goodConfig()
    {
        final Map<String, String> c = new LinkedHashMap<>();
        c.put("engine", "file-tree");
        c.put("format", "1");
        c.put("block_size", String.valueOf(BLOCK));
        c.put("chunk_size", String.valueOf(RemoteTestSupport.CHUNK));
        c.put("files_per_chunk", "4096");
        c.put("checksum", "crc32c");
        c.put("restart_window_ms", "500");
        return c;
    }

    private static byte[] body(final int capacity, final Encoder e)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[capacity]);
        final int n = e.encode(b);
        final byte[] out = new byte[n];
        b.getBytes(0, out);
        return out;
    }

    interface Encoder
    {
        int encode(UnsafeBuffer b);
    }

    static byte[] config(final Map<String, String> c)
    {
        return frame(FrameType.COM_RES_CONFIG, body(8192, (b) -> ConfigCodec.encode(b, 0, c)));
    }

    static byte[] state(final int stage, final long files, final long chunks, final long bytes)
    {
        return frame(FrameType.COM_RES_DATA_DESC, body(64,
            (b) -> DescriptorFlyweight.encodeState(b, 0, stage, files, chunks, bytes, BLOCK)));
    }

    static byte[] file(final int index, final long size, final long mtime, final int mode, final int type,
        final int firstChunk, final int span, final String path)
    {
        final byte[] p = path.getBytes(StandardCharsets.UTF_8);
        return frame(FrameType.COM_RES_DATA_DESC, body(8192, (b) -> DescriptorFlyweight.encodeFile(b, 0, index, size,
            mtime, mode, type, firstChunk, span, p, new byte[0])));
    }

    static byte[] data(final int fileIndex, final int chunk, final int block, final long position, final byte[] bytes,
        final int flags)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes);
        return frame(FrameType.COM_RES_DATA_DESC, body(64, (b) -> DescriptorFlyweight.encodeData(b, 0, fileIndex, chunk,
            block, position, bytes.length, (int)crc.getValue(), flags)));
    }

    static byte[] complete(final int task, final long bytes)
    {
        return frame(FrameType.COM_RES_COMPLETE, body(64, (b) -> CompleteCodec.encode(b, 0, Stage.FILE_COPY, task, bytes)));
    }

    static byte[] error(final int code, final String message)
    {
        return frame(FrameType.COM_RES_ERROR, body(2048, (b) -> ErrorCodec.encode(b, 0, code, message)));
    }

    /**
     * Play the donor's side up to COM_RES_CONFIG; read COM_EXECUTE when {@code execute}.
     */
    static void handshake(final RemoteTestSupport.RawPeer p, final Locator real, final Map<String, String> config,
        final boolean execute) throws IOException
    {
        final RemoteTestSupport.Frame hello = p.expect(FrameType.HELLO);
        assertEquals(HelloCodec.ROLE_CLIENT, ByteBuffer.wrap(hello.body).order(ByteOrder.LITTLE_ENDIAN).getInt(12));
        p.send(RemoteTestSupport.RawPeer.hello(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, HelloCodec.ROLE_DONOR));
        assertEquals(0, p.expect(FrameType.COM_CLONE).body.length);
        p.expect(FrameType.COM_INIT);
        p.send(locatorFrame(FrameType.COM_RES_LOCS, real));
        p.send(config(config));
        if (execute)
        {
            // a live clone (the default) asks for LIVE: a file changing under the donor is copied again, not fatal
            final byte[] executeBody = p.expect(FrameType.COM_EXECUTE).body;
            assertEquals(dev.ferry.core.protocol.ExecuteFlags.LENGTH, executeBody.length);
            assertEquals(dev.ferry.core.protocol.ExecuteFlags.LIVE, java.nio.ByteBuffer.wrap(executeBody)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt());
        }
    }

    static Locator real()
    {
        return Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, SNAPSHOT, 0, Stage.METADATA);
    }

    private FerryException failsWithin(final InetSocketAddress donor, final Path dst)
    {
        return assertTimeoutPreemptively(BOUND,
            () -> assertThrows(FerryException.class, () -> new CloneClient(donor, dst, client()).run()));
    }

    @Test
    void clientSendsFinalAckThenExitWithCodeZero() throws Exception
    {
        final byte[] hello = "hello".getBytes(StandardCharsets.UTF_8);
        final long mtime = TimeUnit.SECONDS.toNanos(1_600_000_000L) + 123_456_789;
        final List<int[]> acks = new ArrayList<>();
        final int[] exitCode = { -1 };
        final String[] exitMessage = { null };
        final Path dst = base.resolve("dst");
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
        {
            handshake(p, real(), goodConfig(), true);
            p.send(state(Stage.METADATA, 2, 1, hello.length));
            p.send(file(0, 0, mtime, 0755, DescriptorFlyweight.FILE_DIRECTORY, 0, 0, "dir"));
            p.send(file(1, hello.length, mtime, 0640, DescriptorFlyweight.FILE_REGULAR, 0, 1, "dir/hello.txt"));
            p.send(state(Stage.FILE_COPY, 2, 1, hello.length));
            p.send(data(1, 0, 0, 0, hello,
                DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC));
            p.send(frame(FrameType.COM_RES_DATA, hello));
            p.send(complete(0, hello.length));
            while (true)
            {
                final RemoteTestSupport.Frame f = p.read();
                assertNotNull(f, "the client closed without COM_EXIT");
                if (f.type == FrameType.COM_ACK)
                {
                    final ByteBuffer b = ByteBuffer.wrap(f.body).order(ByteOrder.LITTLE_ENDIAN);
                    final int n = b.getInt(0);
                    assertEquals(4 + 12 * n, f.body.length);
                    for (int i = 0; i < n; i++)
                    {
                        acks.add(new int[] { b.getInt(4 + 12 * i), b.getInt(8 + 12 * i), b.getInt(12 + 12 * i) });
                    }
                    continue;
                }
                assertEquals(FrameType.name(FrameType.COM_EXIT), FrameType.name(f.type));
                final ByteBuffer b = ByteBuffer.wrap(f.body).order(ByteOrder.LITTLE_ENDIAN);
                exitCode[0] = b.getInt(0);
                final int len = b.getShort(4) & 0xFFFF;
                exitMessage[0] = new String(f.body, 6, len, StandardCharsets.UTF_8);
                assertEquals(6 + len, f.body.length);
                break;
            }
            assertTrue(p.closedByPeer(), "the client closes after COM_EXIT");
        }))
        {
            final CloneResult r = assertTimeoutPreemptively(BOUND,
                () -> new CloneClient(donor.address(), dst, client()).run());
            donor.assertScriptPassed();
            assertNoClientThreadsLeft();
            assertEquals(SNAPSHOT, r.snapshotId());
            assertEquals(hello.length, r.dataBytes());
        }
        assertEquals(1, acks.size(), "one ack entry for the one chunk");
        assertArrayEquals(new int[] { 0, 1, 1 }, acks.get(0), "chunk 0, 1 block applied, complete");
        assertEquals(ErrorCode.OK, exitCode[0]);
        assertEquals("", exitMessage[0]);
        assertArrayEquals(hello, Files.readAllBytes(dst.resolve("dir/hello.txt")));
        assertEquals(0640, RemoteTestSupport.mode(dst.resolve("dir/hello.txt")));
        assertEquals(mtime, RemoteTestSupport.mtimeNanos(dst.resolve("dir/hello.txt")));
        assertEquals(0755, RemoteTestSupport.mode(dst.resolve("dir")));
        assertFalse(FileTreeRecipient.isIncomplete(dst));
    }

    /**
     * FileTreeRecipient caps the entries a donor may announce so that a hostile donor cannot make the recipient
     * reserve unbounded memory; the chunk count in the same STATE descriptor must be capped as well (a restart
     * locator cannot describe more than {@code LocatorCodec.MAX_CHUNKS} chunks anyway).
     */
    @Test
    void absurdChunkCountIsRefusedAsBadDescriptor() throws Exception
    {
        final Path dst = base.resolve("dst");
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
        {
            handshake(p, real(), goodConfig(), true);
            p.send(state(Stage.METADATA, 0, Integer.MAX_VALUE, 0));
            p.send(state(Stage.FILE_COPY, 0, Integer.MAX_VALUE, 0));
            p.send(complete(0, 0));
        }))
        {
            final FerryException ex = failsWithin(donor.address(), dst);
            assertEquals(ErrorCode.name(ErrorCode.BAD_DESCRIPTOR), ErrorCode.name(ex.code()), ex.getMessage());
        }
    }

    /**
     * Threads of a client clone, by the names its agents give them.
     */
    static List<String> clientThreads()
    {
        final List<String> names = new ArrayList<>();
        for (final Thread t : Thread.getAllStackTraces().keySet())
        {
            if (t.isAlive() && (t.getName().startsWith("ferry-client-") || t.getName().startsWith("ferry-apply-")))
            {
                names.add(t.getName());
            }
        }
        return names;
    }

    static void assertNoClientThreadsLeft() throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (!clientThreads().isEmpty() && System.nanoTime() < deadline)
        {
            Thread.sleep(20);
        }
        assertEquals(List.of(), clientThreads(), "threads left running after CloneClient.run() returned");
    }

    @Test
    void interruptCancelsTheCloneAndStopsItsThreads() throws Exception
    {
        final Path dst = base.resolve("dst");
        final CountDownLatch executing = new CountDownLatch(1);
        final AtomicReference<Throwable> outcome = new AtomicReference<>();
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
        {
            handshake(p, real(), goodConfig(), true);
            p.send(state(Stage.METADATA, 1, 1, 10));
            executing.countDown();
        }))
        {
            final Thread runner = new Thread(() ->
            {
                try
                {
                    new CloneClient(donor.address(), dst, client()).run();
                    outcome.set(new AssertionError("the clone of a stalled donor returned"));
                }
                catch (final Throwable t)
                {
                    outcome.set(t);
                }
            }, "clone-runner");
            runner.start();
            assertTrue(executing.await(10, TimeUnit.SECONDS));
            Thread.sleep(100);
            final long start = System.nanoTime();
            runner.interrupt();
            runner.join(5_000);
            assertFalse(runner.isAlive(), "run() ignored the interrupt");
            assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) < 2_000);
            final Throwable t = outcome.get();
            assertTrue(t instanceof FerryException, "expected a FerryException, got " + t);
            assertEquals(ErrorCode.name(ErrorCode.CANCELLED), ErrorCode.name(((FerryException)t).code()), t.getMessage());
            assertNoClientThreadsLeft();
        }
        assertTrue(FileTreeRecipient.isIncomplete(dst), "a cancelled clone keeps its marker");
    }

    @Test
    void dataFrameWithoutDescriptorIsBadDescriptor() throws Exception
    {
        final Path dst = base.resolve("dst");
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
        {
            handshake(p, real(), goodConfig(), true);
            p.send(state(Stage.METADATA, 1, 1, 10));
            p.send(file(0, 10, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1, "f"));
            p.send(state(Stage.FILE_COPY, 1, 1, 10));
            p.send(frame(FrameType.COM_RES_DATA, new byte[10]));
        }))
        {
            final FerryException ex = failsWithin(donor.address(), dst);
            assertEquals(ErrorCode.name(ErrorCode.BAD_DESCRIPTOR), ErrorCode.name(ex.code()), ex.getMessage());
        }
        assertTrue(FileTreeRecipient.isIncomplete(dst), "a failed clone keeps its marker");
    }

    @Test
    void blockLargerThanBlockSizeIsBadDescriptor() throws Exception
    {
        final Path dst = base.resolve("dst");
        final byte[] big = new byte[BLOCK + 1];
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
        {
            handshake(p, real(), goodConfig(), true);
            p.send(state(Stage.METADATA, 1, 1, big.length));
            p.send(file(0, big.length, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1, "f"));
            p.send(state(Stage.FILE_COPY, 1, 1, big.length));
            p.send(data(0, 0, 0, 0, big, DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK));
        }))
        {
            final FerryException ex = failsWithin(donor.address(), dst);
            assertEquals(ErrorCode.name(ErrorCode.BAD_DESCRIPTOR), ErrorCode.name(ex.code()), ex.getMessage());
        }
    }

    @Test
    void donorErrorMidStreamReachesTheCallerWithItsCodeAndMessage() throws Exception
    {
        final Path dst = base.resolve("dst");
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
        {
            handshake(p, real(), goodConfig(), true);
            p.send(state(Stage.METADATA, 1, 1, 10));
            p.send(file(0, 10, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1, "f"));
            p.send(state(Stage.FILE_COPY, 1, 1, 10));
            p.send(error(ErrorCode.FILE_CHANGED, "'f' changed size under the donor"));
        }))
        {
            final FerryException ex = failsWithin(donor.address(), dst);
            assertEquals(ErrorCode.name(ErrorCode.FILE_CHANGED), ErrorCode.name(ex.code()), ex.getMessage());
            assertTrue(ex.getMessage().contains("'f' changed size under the donor"), ex.getMessage());
        }
        assertTrue(FileTreeRecipient.isIncomplete(dst));
    }

    @Test
    void locatorWithVersionOutsideClientRangeIsRefused() throws Exception
    {
        final Path dst = base.resolve("dst");
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
            handshake(p, Locator.real(Locator.ENGINE_FILE_TREE, 7, SNAPSHOT, 0, Stage.METADATA), goodConfig(), false)))
        {
            final FerryException ex = failsWithin(donor.address(), dst);
            assertEquals(ErrorCode.name(ErrorCode.BAD_LOCATOR), ErrorCode.name(ex.code()), ex.getMessage());
        }
        assertFalse(Files.exists(dst, LinkOption.NOFOLLOW_LINKS), "nothing is written before a usable locator");
    }

    @Test
    void unusableConfigIsConfigMismatchNamingTheSetting() throws Exception
    {
        final Map<String, String> bad = goodConfig();
        bad.put("block_size", "banana");
        final Path dst = base.resolve("dst");
        try (ScriptedDonor donor = new ScriptedDonor((p) -> handshake(p, real(), bad, false)))
        {
            final FerryException ex = failsWithin(donor.address(), dst);
            assertEquals(ErrorCode.name(ErrorCode.CONFIG_MISMATCH), ErrorCode.name(ex.code()), ex.getMessage());
            assertTrue(ex.getMessage().contains("block size") && ex.getMessage().contains("banana"), ex.getMessage());
        }
    }

    /**
     * The donor dies after COM_EXECUTE: the client may try to restart within the window the donor announced (500 ms
     * here), finds the port closed, and gives up with a restartable NETWORK error and an incomplete target.
     */
    @Test
    void donorThatVanishesAfterLocatorLeavesAnIncompleteTarget() throws Exception
    {
        final Path dst = base.resolve("dst");
        try (ScriptedDonor donor = new ScriptedDonor((p) ->
        {
            handshake(p, real(), goodConfig(), true);
            p.close();
        }))
        {
            final FerryException ex = failsWithin(donor.address(), dst);
            assertEquals(ErrorCode.name(ErrorCode.NETWORK), ErrorCode.name(ex.code()), ex.getMessage());
            assertTrue(ex.isRestartable());
            assertNoClientThreadsLeft();
        }
        assertTrue(FileTreeRecipient.isIncomplete(dst), "the target must say the clone is incomplete");
        for (final String p : RemoteTestSupport.listAll(dst))
        {
            assertTrue(p.startsWith(ManifestScanner.STATE_DIR), "only the clone's state may be in the target: " + p);
        }

        // a new clone into it is refused, naming the interrupted clone
        final FerryException again = assertThrows(FerryException.class,
            () -> new CloneClient(new InetSocketAddress(RemoteTestSupport.LOOPBACK, 9), dst, client()).run());
        assertEquals(ErrorCode.name(ErrorCode.TARGET_NOT_EMPTY), ErrorCode.name(again.code()), again.getMessage());
        assertTrue(again.getMessage().contains("interrupted"), again.getMessage());
    }
}
