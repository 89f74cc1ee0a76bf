package dev.ferry.engine.remote;

import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.recipient.MemoryBudget;
import dev.ferry.engine.recipient.RecipientJournal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.FrameValidator;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.transport.TransportSettings;

import static dev.ferry.engine.remote.FuzzSupport.complete;
import static dev.ferry.engine.remote.FuzzSupport.dataDescriptor;
import static dev.ferry.engine.remote.FuzzSupport.dataFrame;
import static dev.ferry.engine.remote.FuzzSupport.file;
import static dev.ferry.engine.remote.FuzzSupport.state;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A malicious donor scripted on a raw socket: it answers the client's HELLO, reads COM_CLONE and COM_INIT, sends a
 * real locator and the file-tree configuration, reads COM_EXECUTE, then streams descriptors built to attack the
 * recipient. Every attack must end {@code CloneClient.run()} with a FerryException of the fitting code, write nothing
 * outside the target (a sibling {@code outside} directory stays empty and nothing else appears next to the target),
 * and leave the target marked incomplete (or absent).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MaliciousDonorTest
{
    private static final int BLOCK = 65_536;
    private static final long SNAPSHOT = 0x0BAD_D0_0000_0001L;
    private static final long MTIME = 1_600_000_000_000_000_000L;
    private static final int LAST_AND_CRC = DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC;
    private static final Duration BOUND = Duration.ofSeconds(15);
    private static final byte[] TEN = RemoteTestSupport.random(10, 10);

    @TempDir
    Path base;

    private Path target;
    private Path outside;
    private List<String> before;
    private CloneClient.Options options = client();

    @BeforeEach
    void layout() throws IOException
    {
        target = base.resolve("target");
        outside = Files.createDirectory(base.resolve("outside"));
        before = RemoteTestSupport.listAll(base);
    }

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    /**
     * What the malicious donor does on each connection the client opens (0 = the first).
     */
    interface Script
    {
        void run(int connection, RemoteTestSupport.RawPeer peer) throws Exception;
    }

    /**
     * Accepts connections one after the other and plays a script on each; keeps each socket open until the client
     * closes it or the donor is closed.
     */
    static final class MaliciousDonor implements AutoCloseable
    {
        private final ServerSocket server;
        private final Thread thread;
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();
        private final List<Throwable> failures = new CopyOnWriteArrayList<>();
        private final AtomicInteger connections = new AtomicInteger();

        MaliciousDonor(final Script script) throws IOException
        {
            server = new ServerSocket();
            server.bind(RemoteTestSupport.loopbackAnyPort());
            thread = new Thread(() ->
            {
                while (!server.isClosed())
                {
                    final Socket s;
                    try
                    {
                        s = server.accept();
                    }
                    catch (final IOException ex)
                    {
                        return;
                    }
                    sockets.add(s);
                    final int n = connections.getAndIncrement();
                    try (RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(s, 10_000))
                    {
                        script.run(n, peer);
                        // hold the connection until the client is done with it
                        while (peer.read() != null)
                        {
                            // ACKs, COM_EXIT
                        }
                    }
                    catch (final SocketException ex)
                    {
                        // the client reset the connection: it gave up, as it should
                    }
                    catch (final Throwable t)
                    {
                        failures.add(t);
                    }
                }
            }, "malicious-donor");
            thread.setDaemon(true);
            thread.start();
        }

        InetSocketAddress address()
        {
            return new InetSocketAddress(RemoteTestSupport.LOOPBACK, server.getLocalPort());
        }

        int connections()
        {
            return connections.get();
        }

        List<Throwable> failures()
        {
            return failures;
        }

        @Override
        public void close() throws IOException
        {
            server.close();
            for (final Socket s : sockets)
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

    static Locator real(final int stage)
    {
        return Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, SNAPSHOT, 0, stage);
    }

    /**
     * The donor's side of the handshake, to COM_EXECUTE: HELLO, COM_CLONE, {@code initType}, COM_RES_LOCS, the
     * configuration (engine=file-tree, format=1, block_size=65536, chunk_size=1048576, files_per_chunk=4096,
     * checksum=crc32c, restart_window_ms=0).
     *
     * @return the client's locator frame.
     */
    static RemoteTestSupport.Frame handshake(final RemoteTestSupport.RawPeer p, final int initType, final int stage)
        throws IOException
    {
        return handshake(p, initType, stage, dev.ferry.core.protocol.ExecuteFlags.LIVE);
    }

    /**
     * As {@link #handshake(RemoteTestSupport.RawPeer, int, int)}, for a client whose COM_EXECUTE carries
     * {@code executeFlags} (0 for a strict clone).
     */
    static RemoteTestSupport.Frame handshake(final RemoteTestSupport.RawPeer p, final int initType, final int stage,
        final int executeFlags) throws IOException
    {
        final RemoteTestSupport.Frame hello = p.expect(FrameType.HELLO);
        assertEquals(HelloCodec.ROLE_CLIENT, ByteBuffer.wrap(hello.body).order(ByteOrder.LITTLE_ENDIAN)
            .getInt(HelloCodec.ROLE_OFFSET));
        p.send(FuzzSupport.donorHello());
        assertEquals(0, p.expect(FrameType.COM_CLONE).body.length);
        final RemoteTestSupport.Frame init = p.expect(initType);
        p.send(FuzzSupport.locator(FrameType.COM_RES_LOCS, real(stage)));
        p.send(FuzzSupport.config(FuzzSupport.donorConfig(0)));
        // a live clone (the default) asks for LIVE: a file changing under the donor is copied again, not fatal
        final byte[] execute = p.expect(FrameType.COM_EXECUTE).body;
        if (executeFlags == 0 && execute.length == 0)
        {
            return init; // no flags: the body may be empty
        }
        assertEquals(dev.ferry.core.protocol.ExecuteFlags.LENGTH, execute.length);
        assertEquals(executeFlags, java.nio.ByteBuffer.wrap(execute).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt());
        return init;
    }

    static byte[] regular(final int index, final long size, final String path)
    {
        return file(index, size, MTIME, 0644, DescriptorFlyweight.FILE_REGULAR, 0, size == 0 ? 0 : 1,
            FuzzSupport.utf8(path), new byte[0]);
    }

    static byte[] directory(final int index, final String path)
    {
        return file(index, 0, MTIME, 0755, DescriptorFlyweight.FILE_DIRECTORY, 0, 0, FuzzSupport.utf8(path), new byte[0]);
    }

    static byte[] symlink(final int index, final String path, final String linkTarget)
    {
        return file(index, 0, MTIME, 0777, DescriptorFlyweight.FILE_SYMLINK, 0, 0, FuzzSupport.utf8(path),
            FuzzSupport.utf8(linkTarget));
    }

    static byte[] metadata(final long files)
    {
        return state(Stage.METADATA, files, 1, 10 * files, BLOCK);
    }

    static byte[] fileCopy(final long files)
    {
        return state(Stage.FILE_COPY, files, 1, 10 * files, BLOCK);
    }

    /**
     * A block of ten bytes with its true CRC32C, descriptor and data frame.
     */
    static void block(final RemoteTestSupport.RawPeer p, final int file, final long offset) throws IOException
    {
        p.send(dataDescriptor(file, 0, 0, offset, TEN.length, FuzzSupport.crc(TEN), LAST_AND_CRC));
        p.send(dataFrame(TEN));
    }

    private static CloneClient.Options client()
    {
        return new CloneClient.Options().threads(1).maxRestarts(2)
            .transport(new TransportSettings().readTimeoutMs(5_000).heartbeatMs(200));
    }

    private FerryException refused(final Script script, final int expectedCode) throws Exception
    {
        return refused(script, expectedCode, BOUND);
    }

    private FerryException refused(final Script script, final int expectedCode, final Duration bound) throws Exception
    {
        try (MaliciousDonor donor = new MaliciousDonor(script))
        {
            final FerryException ex = assertTimeoutPreemptively(bound, () -> assertThrows(FerryException.class,
                () -> new CloneClient(donor.address(), target, options).run()));
            assertEquals(ErrorCode.name(expectedCode), ErrorCode.name(ex.code()), ex.describe());
            assertFalse(ex.getMessage().isEmpty());
            FuzzSupport.awaitNoClientThreads();
            assertEquals(List.of(), donor.failures(), "the donor script failed");
            assertNothingOutsideTheTarget();
            return ex;
        }
    }

    private void assertNothingOutsideTheTarget() throws IOException
    {
        assertEquals(List.of(), RemoteTestSupport.listAll(outside), "written into the sibling directory");
        final List<String> now = new ArrayList<>();
        for (final String p : RemoteTestSupport.listAll(base))
        {
            if (!p.equals("target") && !p.startsWith("target/"))
            {
                now.add(p);
            }
        }
        assertEquals(before, now, "new files next to the target");
        assertTrue(!Files.exists(target, LinkOption.NOFOLLOW_LINKS) || FileTreeRecipient.isIncomplete(target),
            "a refused clone must leave the target marked incomplete (or absent): " + RemoteTestSupport.listAll(target));
        assertEquals(List.of(), FuzzSupport.symlinks(target), "a refused clone created symlinks");
    }

    // ---------------------------------------------------------------------------------------------------- paths

    static Stream<Arguments> escapingPaths()
    {
        return Stream.of(
            Arguments.of("../outside/evil"),
            Arguments.of("a/../../outside/evil"),
            Arguments.of("a/../evil"),
            Arguments.of(".."),
            Arguments.of("a/.."),
            Arguments.of("./evil"),
            Arguments.of("a//evil"),
            Arguments.of("a/"),
            Arguments.of(".ferry/status"),
            Arguments.of("evil\0.txt"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("escapingPaths")
    void pathWithDotDotOrOtherEscapeIsPathRefused(final String path) throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(2));
            p.send(directory(0, "a"));
            p.send(regular(1, TEN.length, path));
            p.send(fileCopy(2));
            block(p, 1, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.PATH_REFUSED);
        assertFalse(Files.exists(outside.resolve("evil"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(base.resolve("evil"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void absolutePathIsPathRefused() throws Exception
    {
        final Path evil = outside.resolve("evil").toAbsolutePath();
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(1));
            p.send(regular(0, TEN.length, evil.toString()));
            p.send(fileCopy(1));
            block(p, 0, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.PATH_REFUSED);
        assertFalse(Files.exists(evil, LinkOption.NOFOLLOW_LINKS));
    }

    static Stream<Arguments> symlinkTargets()
    {
        return Stream.of(Arguments.of("../outside", true), Arguments.of("../outside", false),
            Arguments.of("ABSOLUTE", true), Arguments.of("ABSOLUTE", false));
    }

    @ParameterizedTest(name = "link -> {0}, then a regular file (true) or a directory (false) beneath it: {1}")
    @MethodSource("symlinkTargets")
    void entryBeneathASymlinkIsPathRefused(final String linkTarget, final boolean regularFile) throws Exception
    {
        final String to = linkTarget.equals("ABSOLUTE") ? outside.toAbsolutePath().toString() : linkTarget;
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(2));
            p.send(symlink(0, "link", to));
            p.send(regularFile ? regular(1, TEN.length, "link/evil") : directory(1, "link/evil"));
            p.send(fileCopy(2));
            block(p, 1, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.PATH_REFUSED);
        assertFalse(Files.exists(outside.resolve("evil"), LinkOption.NOFOLLOW_LINKS));
    }

    // -------------------------------------------------------------------------------------------- descriptors

    @Test
    void sameFileAnnouncedTwiceIsBadDescriptor() throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(2));
            p.send(regular(0, TEN.length, "twice"));
            p.send(regular(1, TEN.length, "twice"));
            p.send(fileCopy(2));
            block(p, 0, 0);
            block(p, 1, 0);
            p.send(complete(Stage.FILE_COPY, 0, 2 * TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
    }

    @Test
    void directoryAndFileWithTheSamePathIsBadDescriptor() throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(2));
            p.send(directory(0, "d"));
            p.send(regular(1, TEN.length, "d"));
            p.send(fileCopy(2));
            block(p, 1, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
    }

    @Test
    void sameIndexAnnouncedTwiceIsBadDescriptor() throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(2));
            p.send(regular(0, TEN.length, "first"));
            p.send(regular(0, TEN.length, "second"));
            p.send(fileCopy(2));
            block(p, 0, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
        assertFalse(Files.exists(target.resolve("second"), LinkOption.NOFOLLOW_LINKS));
    }

    static Stream<Arguments> offsetsPastTheSize()
    {
        // file of 10 bytes; blocks of 10 bytes at these offsets end past it
        return Stream.of(Arguments.of(1L), Arguments.of(10L), Arguments.of(4096L), Arguments.of((long)Integer.MAX_VALUE),
            Arguments.of(Long.MAX_VALUE - 5));
    }

    @ParameterizedTest(name = "offset {0}")
    @MethodSource("offsetsPastTheSize")
    void blockPastTheAnnouncedSizeIsBadDescriptor(final long offset) throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(1));
            p.send(regular(0, TEN.length, "f"));
            p.send(fileCopy(1));
            block(p, 0, offset);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
        final Path f = target.resolve("f");
        assertTrue(!Files.exists(f, LinkOption.NOFOLLOW_LINKS) || Files.size(f) <= TEN.length, "file grew past its size");
    }

    static Stream<Arguments> unknownFiles()
    {
        // index 0 is a directory, 1 a symlink, 2 a regular file; 3 and beyond were never announced
        return Stream.of(Arguments.of(3), Arguments.of(4096), Arguments.of(Integer.MAX_VALUE), Arguments.of(0),
            Arguments.of(1));
    }

    @ParameterizedTest(name = "file index {0}")
    @MethodSource("unknownFiles")
    void dataForAFileThatIsNotAnAnnouncedRegularFileIsBadDescriptor(final int index) throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(3));
            p.send(directory(0, "d"));
            p.send(symlink(1, "l", "d"));
            p.send(regular(2, TEN.length, "d/f"));
            p.send(fileCopy(3));
            block(p, index, 0);
            block(p, 2, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
        assertFalse(Files.exists(target.resolve("l"), LinkOption.NOFOLLOW_LINKS));
    }

    static Stream<Arguments> dataLengths()
    {
        return Stream.of(Arguments.of(0), Arguments.of(9), Arguments.of(11), Arguments.of(BLOCK));
    }

    @ParameterizedTest(name = "descriptor says 10 bytes, data frame carries {0}")
    @MethodSource("dataLengths")
    void dataFrameLengthThatDisagreesWithItsDescriptorIsBadDescriptor(final int carried) throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(1));
            p.send(regular(0, 100, "f"));
            p.send(fileCopy(1));
            final byte[] bytes = RemoteTestSupport.random(11, carried);
            p.send(dataDescriptor(0, 0, 0, 0, TEN.length, FuzzSupport.crc(TEN), LAST_AND_CRC));
            p.send(dataFrame(bytes));
            p.send(complete(Stage.FILE_COPY, 0, carried));
        }, ErrorCode.BAD_DESCRIPTOR);
    }

    /**
     * A block for chunk 5 when the STATE announced one chunk: BAD_DESCRIPTOR, and what the client tells the donor
     * must still be well-formed frames ending with a COM_EXIT that carries that code (the donor releases the snapshot
     * on it). Every frame the client sends is checked with FrameValidator.
     */
    @Test
    void dataForAChunkBeyondTheAnnouncedCountIsBadDescriptorAndTheClientSaysSoInWellFormedFrames() throws Exception
    {
        final List<String> sent = new CopyOnWriteArrayList<>();
        final List<String> invalid = new CopyOnWriteArrayList<>();
        final int[] exitCode = { -1 };
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(1));
            p.send(regular(0, TEN.length, "f"));
            p.send(fileCopy(1));
            p.send(dataDescriptor(0, 5, 0, 0, TEN.length, FuzzSupport.crc(TEN), LAST_AND_CRC));
            p.send(dataFrame(TEN));
            final FrameValidator validator = new FrameValidator(FuzzSupport.CAP);
            RemoteTestSupport.Frame f;
            while ((f = p.read()) != null)
            {
                sent.add(FrameType.name(f.type));
                final byte[] whole = FuzzSupport.frame(f.type, f.body);
                final int verdict = validator.validate(new UnsafeBuffer(whole), 0, whole.length);
                if (verdict != ErrorCode.OK)
                {
                    invalid.add(FrameType.name(f.type) + " fails with " + ErrorCode.name(verdict) + ": " +
                        java.util.HexFormat.of().formatHex(whole));
                }
                if (f.type == FrameType.COM_EXIT && verdict == ErrorCode.OK)
                {
                    exitCode[0] = FuzzSupport.intLE(whole, 8);
                }
            }
        }, ErrorCode.BAD_DESCRIPTOR);
        assertEquals(List.of(), invalid, "the client sent malformed frames (it sent " + sent + ")");
        assertEquals(ErrorCode.name(ErrorCode.BAD_DESCRIPTOR), ErrorCode.name(exitCode[0]),
            "COM_EXIT code (the client sent " + sent + ")");
    }

    static Stream<Arguments> absurdStates()
    {
        return Stream.of(
            Arguments.of("file count 2^63-1", Long.MAX_VALUE, 1L),
            Arguments.of("file count MAX_ENTRIES+1", FileTreeRecipient.MAX_ENTRIES + 1, 1L),
            Arguments.of("file count 2^31", 1L << 31, 1L),
            Arguments.of("chunk count 2^24+1", 1L, (long)LocatorCodec.MAX_CHUNKS + 1),
            Arguments.of("chunk count 2^63-1", 1L, Long.MAX_VALUE));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("absurdStates")
    void stateWithAbsurdCountsIsBadDescriptor(final String name, final long files, final long chunks) throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(state(Stage.METADATA, files, chunks, Long.MAX_VALUE, BLOCK));
            p.send(regular(0, TEN.length, "f"));
            p.send(state(Stage.FILE_COPY, files, chunks, Long.MAX_VALUE, BLOCK));
            block(p, 0, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
    }

    @Test
    void fileCopyAnnouncedBeforeTheManifestIsCompleteIsBadDescriptor() throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(3));
            p.send(regular(0, TEN.length, "f"));
            p.send(fileCopy(3));
            block(p, 0, 0);
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
    }

    /**
     * The STATE descriptor's entry count is capped (FileTreeRecipient.MAX_ENTRIES = 10^8) "so a hostile donor cannot
     * make the recipient reserve unbounded memory", yet a count at the cap is trusted up front: one 48-byte frame
     * makes the recipient reserve an Entry[10^8] array (400 MB with compressed references), the journal's dirty bitmap
     * and, with 2^24 chunks, a 64 MiB AppliedState, before a single entry arrives. Memory must grow with what the
     * donor actually sends, not with what it announces. (Counts whose tables could not fit in this JVM's heap are
     * refused when announced, with CONFIG_MISMATCH; within the heap, the manifest never completes: BAD_DESCRIPTOR.)
     */
    @Test
    void countsAtTheCapDoNotMakeTheRecipientReserveHundredsOfMegabytes() throws Exception
    {
        final long baseline = FuzzSupport.usedHeapAfterGc();
        final long[] held = { -1 };
        final boolean[] measured = { false };
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(state(Stage.METADATA, FileTreeRecipient.MAX_ENTRIES, LocatorCodec.MAX_CHUNKS, 1, BLOCK));
            // the client starts its journal (a 48-byte header) right after it has sized its tables for the STATE
            final Path manifest = target.resolve(ManifestScanner.STATE_DIR).resolve(RecipientJournal.MANIFEST);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            try
            {
                while ((!Files.exists(manifest) || Files.size(manifest) < 48) && System.nanoTime() < deadline)
                {
                    p.send(FuzzSupport.ping());
                    Thread.sleep(20);
                }
                Thread.sleep(200);
                p.send(FuzzSupport.ping());
            }
            catch (final IOException ex)
            {
                // a recipient that refuses the counts at once has closed: it holds nothing
            }
            // the heap may shrink below the baseline (the test JVM's own garbage collected meanwhile): that is 0 held
            held[0] = Math.max(0, FuzzSupport.usedHeapAfterGc() - baseline);
            measured[0] = true;
            p.send(state(Stage.FILE_COPY, FileTreeRecipient.MAX_ENTRIES, LocatorCodec.MAX_CHUNKS, 1, BLOCK));
        }, MemoryBudget.maxChunks() < LocatorCodec.MAX_CHUNKS ? ErrorCode.CONFIG_MISMATCH : ErrorCode.BAD_DESCRIPTOR);
        System.out.printf("MaliciousDonorTest: heap held by a client after one STATE(files=%,d, chunks=%,d): %,d bytes%n",
            FileTreeRecipient.MAX_ENTRIES, LocatorCodec.MAX_CHUNKS, held[0]);
        assertTrue(measured[0], "the script did not measure");
        assertTrue(held[0] < 64L * 1024 * 1024, "a 48-byte STATE frame made the recipient hold " + held[0] +
            " bytes of heap");
    }

    // ---------------------------------------------------------------------------------------------- the end

    /**
     * A donor that ends the stream with COM_RES_COMPLETE while still in METADATA, and keeps the connection alive with
     * heartbeats as a live donor does: the clone can never be complete, so the client must fail, not wait forever.
     */
    @Test
    void completeBeforeTheManifestReachesFileCopyIsBadDescriptor() throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(2));
            p.send(regular(0, TEN.length, "f"));
            p.send(complete(Stage.FILE_COPY, 0, 0));
            heartbeats(p, 12_000);
        }, ErrorCode.BAD_DESCRIPTOR, Duration.ofSeconds(8));
    }

    @Test
    void completeAfterAWholeManifestThatNeverSaysFileCopyIsBadDescriptor() throws Exception
    {
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(1));
            p.send(regular(0, TEN.length, "f"));
            p.send(complete(Stage.METADATA, 0, 0));
            heartbeats(p, 12_000);
        }, ErrorCode.BAD_DESCRIPTOR, Duration.ofSeconds(8));
    }

    static Stream<Arguments> incompleteData()
    {
        return Stream.of(Arguments.of("never sent", true), Arguments.of("never sent", false),
            Arguments.of("sent short", true), Arguments.of("sent short", false));
    }

    /**
     * COM_RES_COMPLETE in FILE_COPY although an announced file of 20 bytes got no byte, or only its first 10 (in a
     * block flagged last of its chunk): the recipient must not declare the clone complete, run FILE SYNC and remove
     * the marker with a file missing or short.
     */
    @ParameterizedTest(name = "file {0}, sync {1}")
    @MethodSource("incompleteData")
    void completeBeforeAllAnnouncedDataIsBadDescriptor(final String how, final boolean sync) throws Exception
    {
        options = client().settings(new CloneSettings().sync(sync));
        refused((n, p) ->
        {
            handshake(p, FrameType.COM_INIT, Stage.METADATA);
            p.send(metadata(2));
            p.send(regular(0, TEN.length, "f"));
            p.send(regular(1, 2 * TEN.length, "g"));
            p.send(fileCopy(2));
            block(p, 0, 0);
            if (how.equals("sent short"))
            {
                block(p, 1, 0);
            }
            p.send(complete(Stage.FILE_COPY, 0, TEN.length));
        }, ErrorCode.BAD_DESCRIPTOR);
    }

    /**
     * PINGs every 200 ms (a live donor's heartbeat) until the client closes or {@code ms} passed.
     */
    private static void heartbeats(final RemoteTestSupport.RawPeer p, final long ms) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        try
        {
            while (System.nanoTime() < deadline)
            {
                p.send(FuzzSupport.ping());
                Thread.sleep(200);
            }
        }
        catch (final IOException ex)
        {
            // the client closed: done
        }
    }

    // ------------------------------------------------------------------------------------------------ restarts

    /**
     * Every connection delivers the one block with a wrong CRC32C. The recipient never writes it, restarts with
     * COM_REINIT (a restart locator for the same snapshot), meets the same corruption, and gives up after
     * maxRestarts(2), keeping the marker.
     */
    @Test
    void checksumMismatchOnEveryRestartGivesUpAfterMaxRestarts() throws Exception
    {
        final List<Locator> reinits = new CopyOnWriteArrayList<>();
        final Script script = (n, p) ->
        {
            if (n == 0)
            {
                handshake(p, FrameType.COM_INIT, Stage.METADATA, 0);
                p.send(metadata(1));
                p.send(regular(0, TEN.length, "f"));
                p.send(fileCopy(1));
            }
            else
            {
                final RemoteTestSupport.Frame reinit = handshake(p, FrameType.COM_REINIT, Stage.FILE_COPY, 0);
                reinits.add(LocatorCodec.decode(new UnsafeBuffer(reinit.body), 0));
            }
            p.send(dataDescriptor(0, 0, 0, 0, TEN.length, FuzzSupport.crc(TEN) ^ 0x1, LAST_AND_CRC));
            p.send(dataFrame(TEN));
        };
        try (MaliciousDonor donor = new MaliciousDonor(script))
        {
            // strict: a live clone would take the bad block for a torn read, acknowledge it and wait for the donor's
            // COM_RES_COMPLETE (then compare the file in a next pass), which this script never sends
            final FerryException ex = assertTimeoutPreemptively(BOUND, () -> assertThrows(FerryException.class,
                () -> new CloneClient(donor.address(), target, client().strict(true)).run()));
            assertTrue(ex.code() == ErrorCode.CHECKSUM_MISMATCH || ex.code() == ErrorCode.NETWORK, ex.describe());
            assertEquals(3, donor.connections(), "the first connection and two restarts");
            FuzzSupport.awaitNoClientThreads();
            assertEquals(List.of(), donor.failures(), "the donor script failed");
            assertNothingOutsideTheTarget();
        }
        assertEquals(2, reinits.size());
        for (final Locator l : reinits)
        {
            assertEquals(Locator.KIND_RESTART, l.kind());
            assertEquals(SNAPSHOT, l.snapshotId());
            assertEquals(Stage.FILE_COPY, l.stage());
            assertNotNull(l.applied());
            assertEquals(1, l.applied().chunkCount());
            assertFalse(l.applied().isComplete(0), "a corrupt block must not count as applied");
            assertEquals(0, l.applied().appliedBlocks(0));
        }
        assertTrue(FileTreeRecipient.isIncomplete(target), "the marker stays after giving up");
        assertFalse(Files.exists(target.resolve("f"), LinkOption.NOFOLLOW_LINKS), "the corrupt block was written");
    }
}
