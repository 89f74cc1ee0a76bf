package dev.ferry.engine.remote;

import dev.ferry.engine.cli.FerryMain;
import dev.ferry.engine.layout.TestFiles;

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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10: a client that runs out of heap ends the clone with a clear message and exit code 1 within seconds; it
 * once hung for 11 minutes (the loop thread's error handler ran out of heap too, the thread died, and the driver
 * waited for it). The real {@code ferry} main ({@link FerryMain#main}, which arms the halt) runs in a child JVM with a
 * 32 MiB heap. What the donor announces no longer costs the client's heap (a few bytes an entry: the manifest lies
 * off the heap, {@code MemoryBoundsTest}), so the heap is exhausted where it still grows with the entries: an update
 * reads what its copy holds into memory, and this copy holds 12,000 files of paths of about 4,010 bytes (some 100 MB
 * as Java objects). The copy is read on its own thread ("ferry-copy-scan") while the master connects to a scripted
 * donor, which then waits.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class OutOfMemoryTest
{
    private static final int BLOCK = 65_536;
    private static final int FILES = 12_000;
    private static final int DEPTH = 15;
    /** From the child's start: JVM start, the copy's scan until the heap is gone, the report. */
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
        final Path deep = longPathCopy(target);
        final Path stderr = base.resolve("child.err");
        try (MaliciousDonorTest.MaliciousDonor donor = new MaliciousDonorTest.MaliciousDonor((n, p) ->
        {
            if (n == 0)
            {
                waitForHangUp(p);
            }
        }))
        {
            final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            final long start = System.nanoTime();
            final Process child = new ProcessBuilder(java, "-Xmx32m", "-XX:+UseSerialGC",
                "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dferry.read.timeout.ms=5000",
                "-cp", System.getProperty("java.class.path"), FerryMain.class.getName(),
                "clone", "--update", "--from", "127.0.0.1:" + donor.address().getPort(), "--to", target.toString(),
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
            assertFalse(last.contains("direct"), "the heap ran out, not direct memory: " + err);
            assertFalse(err.contains("\tat "), "a stack trace reached stderr: " + err);
        }
        assertTrue(Files.isRegularFile(deep), "the copy lost a file: " + deep);
        try (java.util.stream.Stream<Path> files = Files.list(deep.getParent()))
        {
            assertEquals(FILES, files.count(), "the update removed or added files of the copy");
        }
    }

    /**
     * The copy: a chain of {@link #DEPTH} directories of 250-byte names, then {@link #FILES} empty files of 246-byte
     * names under it (paths of about 4,010 bytes, within PATH_MAX).
     *
     * @return one of the files.
     */
    private static Path longPathCopy(final Path target) throws IOException
    {
        Path dir = target;
        for (int d = 1; d <= DEPTH; d++)
        {
            dir = dir.resolve(String.valueOf((char)('a' + d)).repeat(250));
        }
        Files.createDirectories(dir);
        final String pad = "x".repeat(239);
        Path last = null;
        for (int i = 0; i < FILES; i++)
        {
            last = Files.createFile(dir.resolve(String.format("f%06d", i) + pad));
        }
        return last;
    }

    /**
     * The donor's side: the handshake, then nothing until the client hangs up.
     */
    private static void waitForHangUp(final RemoteTestSupport.RawPeer p) throws Exception
    {
        HostileDonorTest.handshake(p, FuzzSupport.donorConfig(0), false);
        try
        {
            while (p.read() != null)
            {
                // whatever the client sends before it fails
            }
        }
        catch (final SocketException ex)
        {
            // the client hung up, as it should
        }
        catch (final IOException ex)
        {
            if (!String.valueOf(ex.getMessage()).contains("Broken pipe") &&
                !String.valueOf(ex.getMessage()).contains("reset"))
            {
                throw ex;
            }
        }
    }
}
