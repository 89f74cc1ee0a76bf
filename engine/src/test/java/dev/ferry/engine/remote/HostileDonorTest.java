package dev.ferry.engine.remote;

import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.recipient.RecipientJournal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static dev.ferry.engine.remote.FuzzSupport.complete;
import static dev.ferry.engine.remote.FuzzSupport.dataDescriptor;
import static dev.ferry.engine.remote.FuzzSupport.dataFrame;
import static dev.ferry.engine.remote.FuzzSupport.state;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15: a donor that lies, played frame by frame from a script, against the real {@code ferry clone} command
 * line in a child JVM with a 64 MiB heap ({@link HostileCloneChild}). One case per bug the issue found. Each asserts
 * the exit status (1), the error line (code, and a message that names the field and the bound; always the last line
 * of stderr, one line, nothing a terminal interprets), that nothing was written outside the target, that the target
 * keeps {@code .ferry/} and its journal, and that the child's heap stayed within 64 MiB without running out (the
 * child reports its peak).
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class HostileDonorTest
{
    private static final int BLOCK = 65_536;
    private static final long SNAPSHOT = 0x0BAD_D0_0000_0015L;
    private static final long MTIME = 1_600_000_000_000_000_000L;
    private static final int LAST_AND_CRC = DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC;
    private static final long HEAP = 64L * 1024 * 1024;
    private static final char ESC = 0x1B;

    @TempDir
    Path base;

    private Path target;
    private Path outside;
    private List<String> before;

    /**
     * What the child printed and how it ended; the COM_EXIT code the client sent the donor (-1 if none).
     */
    static final class Outcome
    {
        int exit;
        String stderr;
        List<String> errLines;
        long peakHeap = -1;
        final AtomicInteger exitSent = new AtomicInteger(-1);

        String last()
        {
            return errLines.isEmpty() ? "" : errLines.get(errLines.size() - 1);
        }

        @Override
        public String toString()
        {
            return "exit " + exit + ", peak heap " + peakHeap + ", stderr:\n" + stderr;
        }
    }

    interface Attack
    {
        void run(RemoteTestSupport.RawPeer p, Outcome o) throws Exception;
    }

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
        TestFiles.makeWritable(base);
    }

    // ------------------------------------------------------------------------------------------ COM_RES_CONFIG

    @Test
    void chunkSizeZeroIsConfigMismatch() throws Exception
    {
        final Outcome o = clone(configAttack("chunk_size", "0"));
        assertRefused(o, ErrorCode.CONFIG_MISMATCH, "donor chunk size 0 is not usable",
            "chunk_size must be a positive multiple of the block size 65536");
    }

    @Test
    void chunkSizeMinusOneIsConfigMismatch() throws Exception
    {
        final Outcome o = clone(configAttack("chunk_size", "-1"));
        assertRefused(o, ErrorCode.CONFIG_MISMATCH, "donor chunk size -1 is not usable", "chunk_size must be");
    }

    @Test
    void blockSizeThatDoesNotDivideTheChunkIsConfigMismatch() throws Exception
    {
        final Outcome o = clone(configAttack("chunk_size", String.valueOf(3L * BLOCK + 4096)));
        assertRefused(o, ErrorCode.CONFIG_MISMATCH, "donor chunk size " + (3L * BLOCK + 4096) + " is not usable",
            "multiple of the block size " + BLOCK);
    }

    @Test
    void filesPerChunkZeroIsConfigMismatch() throws Exception
    {
        final Outcome o = clone(configAttack("files_per_chunk", "0"));
        assertRefused(o, ErrorCode.CONFIG_MISMATCH, "donor files per chunk 0 is out of range",
            "files_per_chunk must be 1 to 1048576");
    }

    // ------------------------------------------------------------------------------------------ sizes and counts

    @Test
    void fileOfTwoToTheSixtyTwoBytesIsBadDescriptor() throws Exception
    {
        final long size = 1L << 62;
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(state(Stage.METADATA, 1, 1, size, BLOCK));
            p.send(regular(0, size, "huge"));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.BAD_DESCRIPTOR, "'huge' with a size of " + size + " bytes",
            "more than the recipient's file system holds");
        assertFalse(Files.exists(target.resolve("huge"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void fileThatLaysOutMoreChunksThanAnnouncedIsBadDescriptor() throws Exception
    {
        final long size = 40L * 1024 * 1024; // 40 chunks of 1 MiB, the STATE said 1
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(state(Stage.METADATA, 1, 1, size, BLOCK));
            p.send(regular(0, size, "big"));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.BAD_DESCRIPTOR, "lay out 40 chunks of 1048576 bytes, more than the 1 chunks it announced");
    }

    /**
     * The attack: STATE announcing 10^8 entries, then a FILE with index 99,999,999. A 64 MiB heap cannot hold
     * the tables of 10^8 entries, so the STATE is refused at once, naming the count and the heap.
     */
    @Test
    void hundredMillionEntriesThenIndex99999999IsRefusedBeforeAnyTable() throws Exception
    {
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(state(Stage.METADATA, 100_000_000L, 1, 10, BLOCK));
            p.send(regular(99_999_999, 10, "last"));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.CONFIG_MISMATCH, "the donor announced 100000000 entries", "heap of ",
            "FERRY_JAVA_OPTS=-Xmx");
    }

    /**
     * Within the heap's budget the count is accepted, but entries must arrive in order: an index far ahead is
     * refused before the entry table grows to it.
     */
    @Test
    void entryIndexAheadOfTheEntriesReceivedIsBadDescriptor() throws Exception
    {
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(state(Stage.METADATA, 50_000, 50_000, 10, BLOCK));
            p.send(regular(0, 10, "first"));
            p.send(regular(49_999, 10, "last"));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.BAD_DESCRIPTOR, "file index 49999 arrived where entry 1 was due");
    }

    @Test
    void chunkCountBeyondTheHeapIsConfigMismatch() throws Exception
    {
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(state(Stage.METADATA, 1, 1 << 24, 10, BLOCK));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.CONFIG_MISMATCH, "the donor announced 16777216 chunks", "larger --chunk-size");
    }

    // ------------------------------------------------------------------------------------------ completion

    /**
     * Part of a file, then COM_RES_ERROR with code 0: a protocol error. FILE SYNC never runs: {@code .ferry/} and the
     * journal stay, the file keeps the mtime of its creation, and the client tells the donor the error, not OK.
     */
    @Test
    void partialFileThenErrorWithCodeZeroIsAProtocolErrorAndNeverLooksFinished() throws Exception
    {
        final byte[] half = new byte[BLOCK];
        Arrays.fill(half, (byte)0x55);
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(state(Stage.METADATA, 1, 1, 2L * BLOCK, BLOCK));
            p.send(regular(0, 2L * BLOCK, "f"));
            p.send(state(Stage.FILE_COPY, 1, 1, 2L * BLOCK, BLOCK));
            p.send(dataDescriptor(0, 0, 0, 0, BLOCK, FuzzSupport.crc(half), DescriptorFlyweight.DATA_FLAG_CRC));
            p.send(dataFrame(half));
            p.send(FuzzSupport.error(FrameType.COM_RES_ERROR, ErrorCode.OK, "refused: all is well"));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.MALFORMED_FRAME, "sent COM_RES_ERROR with code 0 (OK), which names no error",
            "the clone is not complete");
        assertNotEquals(ErrorCode.OK, o.exitSent.get(), "the client told the donor COM_EXIT OK");
        assertEquals(ErrorCode.name(ErrorCode.MALFORMED_FRAME), ErrorCode.name(o.exitSent.get()));
        assertTrue(Files.isRegularFile(target.resolve(ManifestScanner.STATE_DIR).resolve(RecipientJournal.MANIFEST)),
            "the journal must stay");
        assertNotEquals(MTIME, TestFiles.mtimeNanos(target.resolve("f")), "FILE SYNC restored the mtime");
    }

    // ------------------------------------------------------------------------------------------ donor text

    /**
     * ANSI escapes, a newline that forges a success line, a carriage return and invalid UTF-8 in a COM_RES_ERROR
     * message: shown escaped on one line, and the error line is the last one.
     */
    @Test
    void escapesNewlinesAndInvalidUtf8InAnErrorMessageNeverReachTheTerminalRaw() throws Exception
    {
        final byte[] text = FuzzSupport.concat("\u001b[2J\u001b[31mboom\r\ncloned 9 entries, 9.0 GiB in 1.00 s\n"
            .getBytes(StandardCharsets.UTF_8), new byte[] { (byte)0xFF, (byte)0xC0, (byte)0x80, 'x', (byte)0xC2,
            (byte)0x9B, '1', 'm' });
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(rawError(ErrorCode.FILE_CHANGED, text));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.FILE_CHANGED, "refused: \\x1b[2J\\x1b[31mboom\\x0d\\x0acloned 9 entries",
            "\\xff\\xc0\\x80x\\xc2\\x9b1m");
        for (final String line : o.errLines)
        {
            assertFalse(line.startsWith("cloned"), "a forged line reached the terminal: " + o);
        }
    }

    /**
     * A frame the client refuses is not "connection 0 to the donor was lost": the client closed it.
     */
    @Test
    void aFrameTheClientRefusesIsNotReportedAsALostConnection() throws Exception
    {
        final Outcome o = clone((p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(RemoteTestSupport.RawPeer.header(Integer.MAX_VALUE, FrameType.COM_RES_DATA_DESC));
            awaitExit(p, out);
        });
        assertRefused(o, ErrorCode.FRAME_TOO_LARGE, "the client closed connection 0 to the donor");
        assertFalse(o.last().contains("was lost"), o.toString());
    }

    // ------------------------------------------------------------------------------------------ symlinks

    @Test
    void symlinkTargetWithANulIsBadDescriptorWhenAnnounced() throws Exception
    {
        final Outcome o = clone(symlinkAttack("a\0b".getBytes(StandardCharsets.UTF_8)));
        assertRefused(o, ErrorCode.BAD_DESCRIPTOR, "the donor sent an invalid symlink target for 'l'",
            "it contains a NUL byte at offset 1", "'a\\x00b'");
        assertFalse(o.stderr.indexOf(0) >= 0, "a NUL reached the terminal");
    }

    @Test
    void emptySymlinkTargetIsBadDescriptorWhenAnnounced() throws Exception
    {
        final Outcome o = clone(symlinkAttack(new byte[0]));
        assertRefused(o, ErrorCode.BAD_DESCRIPTOR, "the donor sent an invalid symlink target for 'l': it is empty");
        assertFalse(o.last().contains("check the disk and permissions"), o.toString());
    }

    @Test
    void symlinkTargetOf4096BytesIsBadDescriptorWhenAnnounced() throws Exception
    {
        final byte[] t = new byte[4096];
        Arrays.fill(t, (byte)'t');
        final Outcome o = clone(symlinkAttack(t));
        assertRefused(o, ErrorCode.BAD_DESCRIPTOR, "invalid symlink target for 'l': it is 4096 bytes long, more " +
            "than the 4095 bytes a symlink can hold (PATH_MAX 4096 with its terminating NUL)");
    }

    /**
     * 4,097 bytes do not fit the protocol's string (4,096 at most): the frame itself is malformed.
     */
    @Test
    void symlinkTargetOf4097BytesIsAMalformedFrame() throws Exception
    {
        final byte[] t = new byte[4097];
        Arrays.fill(t, (byte)'t');
        final Outcome o = clone(symlinkAttack(t));
        assertRefused(o, ErrorCode.MALFORMED_FRAME, "the client closed connection 0 to the donor");
    }

    // ------------------------------------------------------------------------------------------ scripts

    private Attack configAttack(final String key, final String value)
    {
        return (p, out) ->
        {
            final Map<String, String> c = FuzzSupport.donorConfig(0);
            c.put(key, value);
            handshake(p, c, false);
            awaitExit(p, out);
        };
    }

    /**
     * A manifest of one symlink {@code l}, then silence (heartbeats): a target is refused when it is announced, not
     * at FILE SYNC after all data moved.
     */
    private Attack symlinkAttack(final byte[] linkTarget)
    {
        return (p, out) ->
        {
            handshake(p, FuzzSupport.donorConfig(0), true);
            p.send(state(Stage.METADATA, 1, 0, 0, BLOCK));
            p.send(FuzzSupport.file(0, 0, MTIME, 0777, DescriptorFlyweight.FILE_SYMLINK, 0, 0, FuzzSupport.utf8("l"),
                linkTarget));
            awaitExit(p, out);
        };
    }

    static byte[] regular(final int index, final long size, final String path)
    {
        return FuzzSupport.file(index, size, MTIME, 0644, DescriptorFlyweight.FILE_REGULAR, 0, size == 0 ? 0 : 1,
            FuzzSupport.utf8(path), new byte[0]);
    }

    /**
     * A COM_RES_ERROR whose message is {@code text} byte for byte (the encoder would only write valid UTF-8).
     */
    static byte[] rawError(final int code, final byte[] text)
    {
        final ByteBuffer b = ByteBuffer.allocate(6 + text.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(code).putShort((short)text.length).put(text);
        return FuzzSupport.frame(FrameType.COM_RES_ERROR, b.array());
    }

    /**
     * The donor's side to COM_RES_CONFIG (and COM_EXECUTE when {@code execute}).
     */
    static void handshake(final RemoteTestSupport.RawPeer p, final Map<String, String> config, final boolean execute)
        throws IOException
    {
        final RemoteTestSupport.Frame hello = p.expect(FrameType.HELLO);
        assertEquals(HelloCodec.ROLE_CLIENT, ByteBuffer.wrap(hello.body).order(ByteOrder.LITTLE_ENDIAN)
            .getInt(HelloCodec.ROLE_OFFSET));
        p.send(FuzzSupport.donorHello());
        p.expect(FrameType.COM_CLONE);
        p.expect(FrameType.COM_INIT);
        // these scripts send manifests whole, with their counts up front, as a donor of protocol 4 does (a protocol 5
        // donor streams it, and StreamedManifestTest plays that one)
        p.send(FuzzSupport.locator(FrameType.COM_RES_LOCS, Locator.real(Locator.ENGINE_FILE_TREE,
            dev.ferry.core.protocol.Wire.STREAM_PROTOCOL - 1, SNAPSHOT, 0, Stage.METADATA)));
        p.send(FuzzSupport.config(config));
        if (execute)
        {
            p.expect(FrameType.COM_EXECUTE);
        }
    }

    /**
     * Read what the client sends until it closes, keeping the code of its COM_EXIT.
     */
    static void awaitExit(final RemoteTestSupport.RawPeer p, final Outcome o) throws IOException
    {
        RemoteTestSupport.Frame f;
        while ((f = p.read()) != null)
        {
            if (f.type == FrameType.COM_EXIT)
            {
                o.exitSent.set(FuzzSupport.intLE(f.body, 0));
            }
        }
    }

    /**
     * Run {@code ferry clone --threads 1} in a child JVM with a 64 MiB heap against a donor playing {@code attack}.
     */
    private Outcome clone(final Attack attack) throws Exception
    {
        final Outcome o = new Outcome();
        try (MaliciousDonorTest.MaliciousDonor donor = new MaliciousDonorTest.MaliciousDonor((n, p) ->
        {
            if (n == 0)
            {
                attack.run(p, o);
            }
        }))
        {
            final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            final Path stdout = base.resolve("child.out");
            final Path stderr = base.resolve("child.err");
            final Process child = new ProcessBuilder(java, "-Xmx64m", "-XX:+UseSerialGC",
                "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dferry.read.timeout.ms=5000",
                "-cp", System.getProperty("java.class.path"), HostileCloneChild.class.getName(),
                "clone", "--from", "127.0.0.1:" + donor.address().getPort(), "--to", target.toString(),
                "--threads", "1", "--progress", "none", "--max-restarts", "0")
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
            if (!child.waitFor(60, TimeUnit.SECONDS))
            {
                child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError("the clone did not end within 60 s: " + Files.readString(stderr));
            }
            o.exit = child.exitValue();
            o.stderr = Files.readString(stderr, StandardCharsets.ISO_8859_1);
            o.errLines = new ArrayList<>(Arrays.asList(o.stderr.split("\n")));
            for (final String line : Files.readAllLines(stdout))
            {
                if (line.startsWith("peak-heap "))
                {
                    o.peakHeap = Long.parseLong(line.substring("peak-heap ".length()));
                }
            }
            Files.delete(stdout);
            Files.delete(stderr);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (donor.failures().isEmpty() && o.exitSent.get() < 0 && System.nanoTime() < deadline &&
                donor.connections() > 0)
            {
                Thread.sleep(10); // the script records the COM_EXIT on its own thread
            }
            assertEquals(List.of(), donor.failures(), "the donor script failed");
        }
        System.out.printf("HostileDonorTest: exit %d, peak heap %,d bytes: %s%n", o.exit, o.peakHeap, o.last());
        return o;
    }

    private void assertRefused(final Outcome o, final int code, final String... parts) throws IOException
    {
        assertEquals(1, o.exit, o.toString());
        final String last = o.last();
        assertTrue(last.startsWith("ferry: error: " + ErrorCode.name(code) + ": "), "last line: " + o);
        for (final String part : parts)
        {
            assertTrue(last.contains(part), "'" + part + "' not in the error line: " + o);
        }
        for (int i = 0; i < o.stderr.length(); i++)
        {
            final char c = o.stderr.charAt(i);
            assertFalse(c < 0x20 && c != '\n' || c == 0x7F || c >= 0x80 && c < 0xA0,
                "a control character (" + (int)c + ") reached stderr: " + o);
        }
        assertTrue(o.stderr.endsWith("\n") && o.stderr.indexOf(ESC) < 0, o.toString());
        assertFalse(o.stderr.contains("OutOfMemoryError"), o.toString());
        assertTrue(o.peakHeap > 0 && o.peakHeap <= HEAP, "peak heap " + o.peakHeap);
        assertNothingOutsideTheTarget();
        assertTrue(FileTreeRecipient.isIncomplete(target), "the target lost .ferry/ after a failure: " +
            RemoteTestSupport.listAll(target));
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
        assertEquals(List.of(), FuzzSupport.symlinks(target), "a refused clone created symlinks");
    }
}
