package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.Locator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Helpers for the remote-clone tests: an edge-case source tree and what the test wrote into it (checked without
 * trusting {@code TreeComparator}), file digests and listings, a raw socket that speaks Ferry frames byte by byte
 * (to play a hostile or half-finished client), and a fake server that is not a donor. Stateless apart from the
 * objects it hands out; every socket and thread it starts is closed by {@link AutoCloseable#close()}.
 */
final class RemoteTestSupport
{
    static final String LOOPBACK = "127.0.0.1";
    static final int BLOCK = 4096 * 16;
    static final long CHUNK = 4096 * 64;

    private RemoteTestSupport()
    {
    }

    /**
     * What the test wrote into a source tree.
     */
    static final class Expected
    {
        final Map<String, String> sha = new LinkedHashMap<>();
        final Map<String, Integer> modes = new LinkedHashMap<>();
        final Map<String, Long> mtimes = new LinkedHashMap<>();
        final Map<String, String> links = new LinkedHashMap<>();
        final List<String> emptyDirectories = new ArrayList<>();
    }

    static InetSocketAddress loopbackAnyPort()
    {
        return new InetSocketAddress(LOOPBACK, 0);
    }

    /**
     * Build a tree with every edge case the remote path must carry, for a donor with {@link #BLOCK} and
     * {@link #CHUNK}, plus a few MB of random data from {@link DatasetGenerator}.
     */
    static Expected buildEdgeCaseTree(final Path src, final boolean withDataset) throws IOException
    {
        final Expected e = new Expected();
        Files.createDirectories(src);

        // sizes around the block and chunk sizes
        final Path sizes = Files.createDirectories(src.resolve("sizes"));
        write(e, src, sizes.resolve("empty"), new byte[0]);
        write(e, src, sizes.resolve("one-byte"), random(1, 1));
        write(e, src, sizes.resolve("block-minus-1"), random(2, BLOCK - 1));
        write(e, src, sizes.resolve("one-block"), random(3, BLOCK));
        write(e, src, sizes.resolve("one-block-plus-1"), random(4, BLOCK + 1));
        write(e, src, sizes.resolve("one-chunk"), random(5, (int)CHUNK));
        write(e, src, sizes.resolve("chunk-plus-1"), random(6, (int)CHUNK + 1));
        write(e, src, sizes.resolve("three-chunks-and-a-bit"), random(7, (int)(3 * CHUNK) + 12_345));

        // empty and nested directories
        final Path emptyDir = Files.createDirectories(src.resolve("empty-dir"));
        e.emptyDirectories.add(rel(src, emptyDir));
        Path deep = src.resolve("nested");
        for (int i = 0; i < 8; i++)
        {
            deep = deep.resolve("level" + i);
        }
        Files.createDirectories(deep);
        write(e, src, deep.resolve("deep.bin"), random(8, 777));
        final Path emptyDeep = Files.createDirectories(deep.resolve("empty-at-the-bottom"));
        e.emptyDirectories.add(rel(src, emptyDeep));

        // many small files, some empty
        final Path small = Files.createDirectories(src.resolve("small"));
        for (int i = 0; i < 300; i++)
        {
            final Path dir = Files.createDirectories(small.resolve("d" + (i % 7)));
            write(e, src, dir.resolve("f" + i), random(100 + i, i % 10 == 0 ? 0 : (i * 37) % 3000 + 1));
        }

        // awkward names
        final Path names = Files.createDirectories(src.resolve("names"));
        write(e, src, names.resolve("with space.txt"), "space".getBytes(StandardCharsets.UTF_8));
        write(e, src, names.resolve("new\nline"), "newline".getBytes(StandardCharsets.UTF_8));
        write(e, src, names.resolve("tab\there"), "tab".getBytes(StandardCharsets.UTF_8));
        write(e, src, names.resolve("ünïcødé-日本語-ελληνικά.dat"), random(9, 5000));
        write(e, src, names.resolve(".hidden"), "hidden".getBytes(StandardCharsets.UTF_8));
        write(e, src, names.resolve("-dash"), "dash".getBytes(StandardCharsets.UTF_8));
        final Path spacedDir = Files.createDirectories(names.resolve("dir with space ü"));
        write(e, src, spacedDir.resolve("inside"), random(10, 100));

        // mode bits
        final Path modes = Files.createDirectories(src.resolve("modes"));
        writeMode(e, src, modes.resolve("exec.sh"), "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.UTF_8), 0755);
        writeMode(e, src, modes.resolve("read-only"), random(11, 3000), 0444);
        writeMode(e, src, modes.resolve("private"), random(12, 10), 0600);
        writeMode(e, src, modes.resolve("setgid-sticky"), random(13, 10), 02750);
        final Path roDir = Files.createDirectories(src.resolve("read-only-dir"));
        write(e, src, roDir.resolve("inside-ro"), random(14, BLOCK + 3));
        Files.createDirectories(roDir.resolve("sub"));
        write(e, src, roDir.resolve("sub").resolve("deeper"), random(15, 10));

        // links of every kind
        final Path links = Files.createDirectories(src.resolve("links"));
        link(e, src, links.resolve("relative"), "../sizes/one-block");
        link(e, src, links.resolve("to-dir"), "../nested");
        link(e, src, links.resolve("absolute"), src.toAbsolutePath().resolve("sizes/one-block").toString());
        link(e, src, links.resolve("dangling"), "does/not/exist");
        link(e, src, links.resolve("dangling-absolute"), "/nonexistent/ferry/target");
        link(e, src, links.resolve("self"), "self");

        if (withDataset)
        {
            final DatasetGenerator g = new DatasetGenerator(42);
            g.mixed(src.resolve("generated"), 2, 3 * CHUNK / 2 + 17, 60);
            final Path generated = src.resolve("generated");
            try (Stream<Path> s = Files.walk(generated))
            {
                for (final Path p : s.toList())
                {
                    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    {
                        e.sha.put(rel(src, p), sha256(p));
                    }
                }
            }
        }

        // times with nanoseconds, directories last (creating children changes them)
        setTime(e, src, sizes.resolve("one-block"), Instant.ofEpochSecond(1_000_000_000L, 123_456_789));
        setTime(e, src, names.resolve("new\nline"), Instant.ofEpochSecond(1_500_000_000L, 1));
        setTime(e, src, modes.resolve("read-only"), Instant.ofEpochSecond(86_400L, 999_999_999));
        setTime(e, src, emptyDir, Instant.ofEpochSecond(1_234_567_890L, 500));
        setTime(e, src, spacedDir, Instant.ofEpochSecond(1_111_111_111L, 42));
        Files.setAttribute(roDir.resolve("sub"), "unix:mode", 0500, LinkOption.NOFOLLOW_LINKS);
        e.modes.put(rel(src, roDir.resolve("sub")), 0500);
        Files.setAttribute(roDir, "unix:mode", 0555, LinkOption.NOFOLLOW_LINKS);
        e.modes.put(rel(src, roDir), 0555);
        setTime(e, src, roDir, Instant.ofEpochSecond(1_300_000_000L, 7));
        return e;
    }

    private static void write(final Expected e, final Path src, final Path p, final byte[] bytes) throws IOException
    {
        Files.write(p, bytes);
        e.sha.put(rel(src, p), sha256(bytes));
    }

    private static void writeMode(final Expected e, final Path src, final Path p, final byte[] bytes, final int mode)
        throws IOException
    {
        write(e, src, p, bytes);
        Files.setAttribute(p, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        e.modes.put(rel(src, p), mode);
    }

    private static void link(final Expected e, final Path src, final Path p, final String target) throws IOException
    {
        Files.createSymbolicLink(p, Path.of(target));
        e.links.put(rel(src, p), target);
    }

    private static void setTime(final Expected e, final Path src, final Path p, final Instant t) throws IOException
    {
        Files.setLastModifiedTime(p, FileTime.from(t));
        e.mtimes.put(rel(src, p), TimeUnit.SECONDS.toNanos(t.getEpochSecond()) + t.getNano());
    }

    static String rel(final Path root, final Path p)
    {
        return root.relativize(p).toString();
    }

    /**
     * Check {@code dst} against what the test wrote, without the comparator.
     */
    static void assertMatches(final Expected e, final Path dst) throws IOException
    {
        for (final Map.Entry<String, String> f : e.sha.entrySet())
        {
            final Path p = dst.resolve(f.getKey());
            assertTrue(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), "not a regular file: " + f.getKey());
            assertEquals(f.getValue(), sha256(p), "SHA-256 of " + f.getKey());
        }
        for (final Map.Entry<String, Integer> m : e.modes.entrySet())
        {
            assertEquals(Integer.toOctalString(TestFiles.clonedMode(dst.resolve(m.getKey()), m.getValue())),
                Integer.toOctalString(mode(dst.resolve(m.getKey()))), "mode of " + m.getKey());
        }
        for (final Map.Entry<String, Long> t : e.mtimes.entrySet())
        {
            assertEquals(t.getValue(), mtimeNanos(dst.resolve(t.getKey())), "mtime of " + t.getKey());
        }
        for (final Map.Entry<String, String> l : e.links.entrySet())
        {
            final Path p = dst.resolve(l.getKey());
            assertTrue(Files.isSymbolicLink(p), "not a symlink: " + l.getKey());
            assertEquals(l.getValue(), Files.readSymbolicLink(p).toString(), "target of " + l.getKey());
        }
        for (final String d : e.emptyDirectories)
        {
            final Path p = dst.resolve(d);
            assertTrue(Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS), "not a directory: " + d);
            try (Stream<Path> s = Files.list(p))
            {
                assertEquals(0, s.count(), "not empty: " + d);
            }
        }
    }

    static byte[] random(final long seed, final int n)
    {
        final SplittableRandom r = new SplittableRandom(seed);
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (byte)r.nextInt();
        }
        return b;
    }

    static String sha256(final byte[] bytes)
    {
        try
        {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    static String sha256(final Path p) throws IOException
    {
        return sha256(Files.readAllBytes(p));
    }

    static int mode(final Path p) throws IOException
    {
        return ((Integer)Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
    }

    static long mtimeNanos(final Path p) throws IOException
    {
        return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).to(TimeUnit.NANOSECONDS);
    }

    /**
     * @return the sum of the sizes of the regular files under {@code root} (links not followed).
     */
    static long regularBytes(final Path root) throws IOException
    {
        final long[] sum = { 0 };
        Files.walkFileTree(root, new SimpleFileVisitor<>()
        {
            @Override
            public FileVisitResult visitFile(final Path file, final BasicFileAttributes attrs)
            {
                if (attrs.isRegularFile())
                {
                    sum[0] += attrs.size();
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return sum[0];
    }

    /**
     * @return every path under {@code root} (root excluded), relative and sorted, links not followed; empty if
     * {@code root} does not exist.
     */
    static List<String> listAll(final Path root) throws IOException
    {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS))
        {
            return Collections.emptyList();
        }
        try (Stream<Path> s = Files.walk(root))
        {
            final List<String> out = new ArrayList<>();
            // the copy's hash store is Ferry's, not part of the tree
            s.filter((p) -> !p.equals(root)).map((p) -> rel(root, p))
                .filter((r) -> !dev.ferry.engine.layout.ManifestScanner.HASH_STORE.equals(r)).forEach(out::add);
            Collections.sort(out);
            return out;
        }
    }

    /**
     * Give the owner rwx on every directory, so a {@code @TempDir} with read-only directories can be deleted.
     */
    static void makeWritable(final Path root)
    {
        TestFiles.makeWritable(root);
    }

    /**
     * Wait up to 5 s for the donor to hold {@code expected} clones (it hears a client's COM_EXIT after the client's
     * run() may already have returned), then assert it.
     */
    static void awaitCloneCount(final DonorService donor, final int expected, final String why)
        throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (donor.cloneCount() != expected && System.nanoTime() < deadline)
        {
            Thread.sleep(10);
        }
        assertEquals(expected, donor.cloneCount(), why);
    }

    /**
     * A small tree for the tests whose subject is not the data.
     */
    static void smallTree(final Path src) throws IOException
    {
        Files.createDirectories(src.resolve("a/b"));
        Files.write(src.resolve("a/b/one"), random(1, 100_000));
        Files.write(src.resolve("a/two"), random(2, BLOCK + 1));
        Files.write(src.resolve("three"), random(3, 3));
        Files.createDirectories(src.resolve("empty"));
        Files.createSymbolicLink(src.resolve("link"), Path.of("a/two"));
    }

    /**
     * A frame read off a raw socket.
     */
    static final class Frame
    {
        final int length;
        final int type;
        final byte[] body;

        Frame(final int length, final int type, final byte[] body)
        {
            this.length = length;
            this.type = type;
            this.body = body;
        }

        private ByteBuffer le()
        {
            return ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        }

        /**
         * Error code of a COM_RES_ERROR body, parsed by hand: int32 code, uint16 length, UTF-8 message.
         */
        int errorCode()
        {
            assertEquals(FrameType.COM_RES_ERROR, type, "expected COM_RES_ERROR, got type " + type);
            return le().getInt(0);
        }

        String errorMessage()
        {
            assertEquals(FrameType.COM_RES_ERROR, type, "expected COM_RES_ERROR, got type " + type);
            final int n = le().getShort(4) & 0xFFFF;
            assertEquals(6 + n, body.length, "error body length");
            return new String(body, 6, n, StandardCharsets.UTF_8);
        }

        @Override
        public String toString()
        {
            return "Frame{type=" + FrameType.name(type) + ", length=" + length +
                (type == FrameType.COM_RES_ERROR && body.length >= 6 ? ", code=" + errorCode() + ", " + errorMessage() : "") +
                "}";
        }
    }

    /**
     * A blocking socket that writes and reads Ferry frames by hand, to play a hostile or stuck client.
     */
    static final class RawPeer implements AutoCloseable
    {
        private static final int MAX_BODY = 1 << 20;

        private final Socket socket;
        private final DataInputStream in;
        private final OutputStream out;

        RawPeer(final InetSocketAddress address, final int readTimeoutMs) throws IOException
        {
            this(connect(address), readTimeoutMs);
        }

        /**
         * Speak frames on a socket that is already connected (the accepted side of a fake donor).
         */
        RawPeer(final Socket socket, final int readTimeoutMs) throws IOException
        {
            this.socket = socket;
            socket.setSoTimeout(readTimeoutMs);
            socket.setTcpNoDelay(true);
            in = new DataInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        private static Socket connect(final InetSocketAddress address) throws IOException
        {
            final Socket s = new Socket();
            try
            {
                s.connect(address, 5_000);
                return s;
            }
            catch (final IOException ex)
            {
                s.close();
                throw ex;
            }
        }

        /** Read timeout from now on, in ms. */
        void readTimeout(final int ms) throws IOException
        {
            socket.setSoTimeout(ms);
        }

        void send(final byte[] bytes) throws IOException
        {
            out.write(bytes);
            out.flush();
        }

        static byte[] header(final int length, final int type)
        {
            return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(length).putShort((short)type)
                .putShort((short)0).array();
        }

        static byte[] frame(final int type, final byte[] body)
        {
            final ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.writeBytes(header(8 + body.length, type));
            b.writeBytes(body);
            return b.toByteArray();
        }

        static byte[] hello(final int min, final int max, final int role)
        {
            return hello(min, max, role, HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART);
        }

        static byte[] hello(final int min, final int max, final int role, final long features)
        {
            final UnsafeBuffer b = new UnsafeBuffer(new byte[512]);
            final int n = HelloCodec.encode(b, 0, min, max, role, features, "raw test peer");
            final byte[] body = new byte[n];
            b.getBytes(0, body);
            return frame(FrameType.HELLO, body);
        }

        static byte[] clientHello()
        {
            return hello(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, HelloCodec.ROLE_CLIENT);
        }

        static byte[] locatorFrame(final int type, final Locator l)
        {
            final UnsafeBuffer b = new UnsafeBuffer(new byte[LocatorCodec.encodedLength(l)]);
            final int n = LocatorCodec.encode(b, 0, l);
            final byte[] body = new byte[n];
            b.getBytes(0, body);
            return frame(type, body);
        }

        static byte[] exitFrame(final int code, final String message)
        {
            final UnsafeBuffer b = new UnsafeBuffer(new byte[2048]);
            final int n = ErrorCodec.encode(b, 0, code, message);
            final byte[] body = new byte[n];
            b.getBytes(0, body);
            return frame(FrameType.COM_EXIT, body);
        }

        /**
         * @return the next frame, skipping PINGs; null at end of stream.
         */
        Frame read() throws IOException
        {
            while (true)
            {
                final byte[] h = new byte[8];
                try
                {
                    in.readFully(h);
                }
                catch (final EOFException ex)
                {
                    return null;
                }
                final ByteBuffer hb = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
                final int length = hb.getInt(0);
                final int type = hb.getShort(4) & 0xFFFF;
                if (length < 8 || length - 8 > MAX_BODY)
                {
                    fail("donor sent a frame header with length " + length + " (type " + type + ")");
                }
                final byte[] body = new byte[length - 8];
                in.readFully(body);
                if (type != FrameType.PING)
                {
                    return new Frame(length, type, body);
                }
            }
        }

        /**
         * @return the next frame, which must be of {@code type}.
         */
        Frame expect(final int type) throws IOException
        {
            final Frame f = read();
            if (f == null || f.type != type)
            {
                fail("expected " + FrameType.name(type) + ", got " + f);
            }
            return f;
        }

        /**
         * @return true if the peer closed the connection (end of stream or reset) within the read timeout; frames
         * still arriving before the close other than PING fail the test.
         */
        boolean closedByPeer() throws IOException
        {
            try
            {
                final Frame f = read();
                if (f != null)
                {
                    fail("expected the donor to close, got " + f);
                }
                return true;
            }
            catch (final SocketTimeoutException ex)
            {
                return false;
            }
            catch (final SocketException ex)
            {
                return true;
            }
        }

        @Override
        public void close() throws IOException
        {
            socket.close();
        }
    }

    /**
     * A TCP server on loopback that is not a donor: each accepted socket is given to {@code behaviour} on the accept
     * thread, and kept open until {@link #close()}.
     */
    static final class FakeServer implements AutoCloseable
    {
        private final ServerSocket server;
        private final Thread thread;
        private final List<Socket> accepted = new CopyOnWriteArrayList<>();
        private final AtomicInteger accepts = new AtomicInteger();

        FakeServer(final Consumer<Socket> behaviour) throws IOException
        {
            server = new ServerSocket();
            server.bind(loopbackAnyPort());
            thread = new Thread(() ->
            {
                while (!server.isClosed())
                {
                    try
                    {
                        final Socket s = server.accept();
                        accepted.add(s);
                        accepts.incrementAndGet();
                        behaviour.accept(s);
                    }
                    catch (final IOException ex)
                    {
                        return;
                    }
                }
            }, "fake-server");
            thread.setDaemon(true);
            thread.start();
        }

        InetSocketAddress address()
        {
            return new InetSocketAddress(LOOPBACK, server.getLocalPort());
        }

        int accepts()
        {
            return accepts.get();
        }

        static Consumer<Socket> writes(final byte[] bytes, final boolean thenClose)
        {
            return (s) ->
            {
                try
                {
                    s.getOutputStream().write(bytes);
                    s.getOutputStream().flush();
                    if (thenClose)
                    {
                        s.close();
                    }
                }
                catch (final IOException ignore)
                {
                    // the client went away first
                }
            };
        }

        @Override
        public void close() throws IOException
        {
            server.close();
            for (final Socket s : accepted)
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
}
