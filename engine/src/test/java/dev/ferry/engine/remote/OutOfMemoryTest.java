package dev.ferry.engine.remote;

import dev.ferry.engine.cli.FerryMain;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.FileTreeRecipient;

import java.io.IOException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.spi.Stage;

import static dev.ferry.engine.remote.FuzzSupport.state;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10: a client that runs out of heap ends the clone with a clear message and exit code 1 within seconds; it
 * once hung for 11 minutes (the loop thread's error handler ran out of heap too, the thread died, and the driver
 * waited for it). The real {@code ferry} main ({@link FerryMain#main}, which arms the halt) runs in a child JVM with a
 * 64 MiB heap against a scripted donor whose manifest fits the announced-count budget but not the heap: 80,000
 * entries of about 4 KiB of path each, where the budget assumes short names.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class OutOfMemoryTest
{
    private static final int BLOCK = 65_536;
    private static final int ENTRIES = 80_000;
    private static final int DEPTH = 15;
    /** From the child's start: JVM start, the manifest until the heap is gone, the report. */
    private static final long BOUND_SECONDS = 90;

    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        TestFiles.makeWritable(base);
    }

    @Test
    void aClientOutOfHeapFailsTheCloneAndExitsNonZeroWithAClearMessage() throws Exception
    {
        final Path target = base.resolve("target");
        final Path stderr = base.resolve("child.err");
        try (MaliciousDonorTest.MaliciousDonor donor = new MaliciousDonorTest.MaliciousDonor((n, p) ->
        {
            if (n == 0)
            {
                longPathManifest(p);
            }
        }))
        {
            final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            final long start = System.nanoTime();
            final Process child = new ProcessBuilder(java, "-Xmx64m", "-XX:+UseSerialGC",
                "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dferry.read.timeout.ms=5000",
                "-cp", System.getProperty("java.class.path"), FerryMain.class.getName(),
                "clone", "--from", "127.0.0.1:" + donor.address().getPort(), "--to", target.toString(),
                "--threads", "1", "--progress", "none", "--max-restarts", "0")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(stderr.toFile()).start();
            final boolean ended = child.waitFor(BOUND_SECONDS, TimeUnit.SECONDS);
            final double seconds = (System.nanoTime() - start) / 1e9;
            if (!ended)
            {
                child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            final String err = Files.readString(stderr, StandardCharsets.ISO_8859_1);
            System.out.printf("OutOfMemoryTest: exit after %.1f s: %s%n", seconds, err.strip());
            assertTrue(ended, "the client out of heap did not end within " + BOUND_SECONDS + " s: " + err);
            assertEquals(FerryMain.EXIT_FAILURE, child.exitValue(), err);
            final List<String> lines = Arrays.asList(err.strip().split("\n"));
            final String last = lines.get(lines.size() - 1);
            assertTrue(last.startsWith("ferry: error: INTERNAL: out of memory"), "last line: " + err);
            assertTrue(last.contains("is too small for this clone") && last.contains("FERRY_JAVA_OPTS=-Xmx"),
                "the message says what to do: " + err);
            assertFalse(err.contains("\tat "), "a stack trace reached stderr: " + err);
        }
        assertTrue(FileTreeRecipient.isIncomplete(target), "the target lost .ferry/: nothing to resume");
    }

    /**
     * The root, a chain of {@link #DEPTH} directories of 250-byte names, then empty files of 246-byte names under
     * it (paths of about 4,010 bytes): all within the protocol's limits. Stops when the client hangs up.
     */
    private static void longPathManifest(final RemoteTestSupport.RawPeer p) throws Exception
    {
        HostileDonorTest.handshake(p, FuzzSupport.donorConfig(0), true);
        try
        {
            p.send(state(Stage.METADATA, ENTRIES, 0, 0, BLOCK));
            p.send(FuzzSupport.file(0, 0, DescriptorFlyweight.FILE_DIRECTORY, "", ""));
            final StringBuilder dir = new StringBuilder();
            for (int d = 1; d <= DEPTH; d++)
            {
                dir.append(d == 1 ? "" : "/").append(String.valueOf((char)('a' + d)).repeat(250));
                p.send(FuzzSupport.file(d, 0, DescriptorFlyweight.FILE_DIRECTORY, dir.toString(), ""));
            }
            final String pad = "x".repeat(239);
            for (int i = DEPTH + 1; i < ENTRIES; i++)
            {
                p.send(FuzzSupport.file(i, 0, DescriptorFlyweight.FILE_REGULAR,
                    dir + "/" + String.format("f%06d", i) + pad, ""));
            }
        }
        catch (final SocketException ex)
        {
            // the client hung up, as it should
        }
        catch (final IOException ex)
        {
            if (!String.valueOf(ex.getMessage()).contains("Broken pipe"))
            {
                throw ex;
            }
        }
    }
}
