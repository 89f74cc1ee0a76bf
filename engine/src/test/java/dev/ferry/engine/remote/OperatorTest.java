package dev.ferry.engine.remote;

import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.cli.FerryMain;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.StatusFile;
import dev.ferry.engine.tools.DatasetGenerator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.FerryError;
import dev.ferry.core.protocol.FerryException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What an operator and an embedding program see: restarts shown within 2 s when the donor dies (SIGKILL) or shuts
 * down (SIGTERM, a child JVM donor), {@code --no-wait}, {@code ferry status} while a clone runs and after it failed,
 * {@code cancel()}, and an interrupted {@code run()} that prints nothing.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class OperatorTest
{
    private static final long RATE = 8L << 20; // bytes per second per connection through the proxy

    @TempDir
    Path dir;

    private Path dataset() throws IOException
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(7).mixed(src, 3, 16L << 20, 20);
        return src;
    }

    /** A writer that remembers when a text first appeared in what was written. */
    private static final class Watch extends Writer
    {
        private final StringBuffer text = new StringBuffer();
        private final String wanted;
        private volatile long seenAt;

        Watch(final String wanted)
        {
            this.wanted = wanted;
        }

        @Override
        public void write(final char[] c, final int off, final int len)
        {
            text.append(c, off, len);
            if (seenAt == 0 && text.indexOf(wanted) >= 0)
            {
                seenAt = System.nanoTime();
            }
        }

        @Override
        public void flush()
        {
        }

        @Override
        public void close()
        {
        }

        long seenAt()
        {
            return seenAt;
        }

        @Override
        public String toString()
        {
            return text.toString();
        }
    }

    /** A System.Logger that keeps its lines. */
    static final class Lines implements System.Logger
    {
        final List<String> lines = new CopyOnWriteArrayList<>();

        @Override
        public String getName()
        {
            return "test";
        }

        @Override
        public boolean isLoggable(final Level level)
        {
            return true;
        }

        @Override
        public void log(final Level level, final java.util.ResourceBundle bundle, final String msg, final Throwable thrown)
        {
            lines.add(level + " " + msg);
        }

        @Override
        public void log(final Level level, final java.util.ResourceBundle bundle, final String format,
            final Object... params)
        {
            lines.add(level + " " + java.text.MessageFormat.format(format, params));
        }
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0))
        {
            return s.getLocalPort();
        }
    }

    private Process childDonor(final Path src, final int port) throws IOException
    {
        final Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx256m", "-cp",
            System.getProperty("java.class.path"), FerryMain.class.getName(), "donor", "--root", src.toString(),
            "--listen", "127.0.0.1:" + port, "--restart-window", "60").redirectErrorStream(true)
            .redirectOutput(dir.resolve("donor-" + port + ".log").toFile()).start();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline)
        {
            if (java.nio.file.Files.exists(dir.resolve("donor-" + port + ".log")) &&
                java.nio.file.Files.readString(dir.resolve("donor-" + port + ".log")).contains("serving"))
            {
                return p;
            }
            if (!p.isAlive())
            {
                fail("the donor died: " + java.nio.file.Files.readString(dir.resolve("donor-" + port + ".log")));
            }
            sleep(50);
        }
        p.destroyForcibly();
        throw new AssertionError("the child donor did not start");
    }

    private static void sleep(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError(ex);
        }
    }

    @Test
    void donorKilledShowsReconnectingWithinTwoSeconds() throws Exception
    {
        lostDonor(false);
    }

    @Test
    void donorStoppedSaysItShutDownWithinTwoSeconds() throws Exception
    {
        lostDonor(true);
    }

    private void lostDonor(final boolean sigterm) throws Exception
    {
        final Path src = dataset();
        final int port = freePort();
        final Process donor = childDonor(src, port);
        try (FaultProxy proxy = new FaultProxy(new InetSocketAddress("127.0.0.1", port)))
        {
            proxy.throttle(RATE);
            final Watch out = new Watch("\"state\":\"reconnecting\"");
            final StringWriter err = new StringWriter();
            final Path dst = dir.resolve("dst");
            final AtomicReference<Integer> exit = new AtomicReference<>();
            final Thread clone = new Thread(() -> exit.set(FerryMain.run(new String[] { "clone", "--from",
                "127.0.0.1:" + proxy.address().getPort(), "--to", dst.toString(), "--progress", "json", "--threads", "1",
                "--no-sync" }, new PrintWriter(out, true), new PrintWriter(err, true))), "clone");
            clone.start();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!out.toString().contains("\"stage\":\"FILE COPY\"") || !out.toString().contains("\"data_bytes\":") ||
                statusBytes(dst) < (4L << 20))
            {
                assertTrue(System.nanoTime() < deadline, "the clone did not get going: " + out + err);
                assertTrue(clone.isAlive(), "the clone ended early: " + out + err);
                sleep(20);
            }
            final long killedAt = System.nanoTime();
            if (sigterm)
            {
                donor.destroy();
            }
            else
            {
                donor.destroyForcibly();
            }
            while (out.seenAt() == 0 && System.nanoTime() - killedAt < TimeUnit.SECONDS.toNanos(10))
            {
                sleep(10);
            }
            assertTrue(out.seenAt() != 0, "no reconnecting record: " + out + err);
            final long ms = TimeUnit.NANOSECONDS.toMillis(out.seenAt() - killedAt);
            assertTrue(ms < 2000, "reconnecting shown after " + ms + " ms");
            final String reconnect = out.toString().substring(out.toString().indexOf("\"state\":\"reconnecting\""));
            assertTrue(reconnect.contains("\"reconnect_attempt\":"), reconnect);
            assertTrue(reconnect.contains("\"reconnect_seconds_left\":"), reconnect);
            if (sigterm)
            {
                assertTrue(reconnect.split("\n")[0].contains("DONOR_SHUTDOWN") &&
                    reconnect.split("\n")[0].contains("shut down"), "the record says the donor shut down: " + reconnect);
                assertTrue(donor.waitFor(20, TimeUnit.SECONDS), "the donor did not exit on SIGTERM");
            }
            sleep(300);
            final String said = err.toString();
            assertEquals(1, said.split("ferry: lost the donor", -1).length - 1, "said once: " + said);
            assertTrue(!sigterm || said.contains("shut down"), said);
            clone.interrupt();
            clone.join(30_000);
            assertFalse(clone.isAlive());
            assertEquals(FerryMain.EXIT_FAILURE, exit.get());
            final String[] lines = out.toString().strip().split("\n");
            assertTrue(lines[lines.length - 1].contains("\"state\":\"failed\"") &&
                lines[lines.length - 1].contains("\"error_code\":\"CANCELLED\""), lines[lines.length - 1]);
            System.out.printf("OperatorTest: %s: reconnecting shown after %d ms%n", sigterm ? "SIGTERM" : "SIGKILL", ms);
        }
        finally
        {
            donor.destroyForcibly();
            donor.waitFor(20, TimeUnit.SECONDS);
        }
    }

    private static long statusBytes(final Path dst)
    {
        try
        {
            final Map<String, String> v = StatusFile.read(dst);
            return v == null ? 0 : Long.parseLong(v.getOrDefault("data_bytes", "0"));
        }
        catch (final IOException | NumberFormatException ex)
        {
            return 0;
        }
    }

    @Test
    void statusMovesWhileRunningAndKeepsTheErrorAfterNoWaitShutdown() throws Exception
    {
        final Path src = dataset();
        final DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().logger(new Lines())).start();
        try (FaultProxy proxy = new FaultProxy(donor.address()))
        {
            proxy.throttle(RATE);
            final Path dst = dir.resolve("dst");
            final CloneClient client = new CloneClient(new InetSocketAddress("127.0.0.1", proxy.address().getPort()), dst,
                new CloneClient.Options().threads(1).noWait(true).settings(
                new dev.ferry.core.config.CloneSettings().sync(false)));
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Thread t = new Thread(() ->
            {
                try
                {
                    client.run();
                }
                catch (final Throwable ex)
                {
                    failure.set(ex);
                }
            }, "clone");
            t.start();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (statusBytes(dst) == 0)
            {
                assertTrue(System.nanoTime() < deadline && t.isAlive(), "no status: " + failure.get());
                sleep(20);
            }
            final String first = status(dst);
            final long bytes1 = statusBytes(dst);
            sleep(1500);
            final String second = status(dst);
            final long bytes2 = statusBytes(dst);
            assertTrue(bytes2 > bytes1, "data_bytes moved: " + first + "\n" + second);
            assertTrue(second.contains("\"state\":\"running\"") && second.contains("\"stage\":\"FILE COPY\"") &&
                second.contains("\"threads\":1") && second.contains("\"snapshot\":\"") &&
                second.contains("\"donor\":\"127.0.0.1:" + proxy.address().getPort() + "\""), second);
            final StringWriter table = new StringWriter();
            assertEquals(0, FerryMain.run(new String[] { "status", dst.toString() }, new PrintWriter(table),
                new PrintWriter(new StringWriter())));
            for (final String key : List.of("stage", "data_bytes", "data_speed", "eta_seconds", "threads", "restarts",
                "donor", "snapshot", "last_error"))
            {
                assertTrue(table.toString().contains(key), key + " missing: " + table);
            }
            donor.close();
            t.join(30_000);
            assertFalse(t.isAlive());
            final FerryException ex = (FerryException)failure.get();
            assertNotNull(ex);
            assertEquals(FerryError.DONOR_SHUTDOWN, ex.error(), ex.describe());
            assertTrue(ex.getMessage().contains("shut down") && ex.getMessage().contains("--no-wait"), ex.describe());
            final String after = status(dst);
            assertTrue(after.contains("\"state\":\"failed\"") && after.contains("\"error_code\":\"DONOR_SHUTDOWN\"") &&
                after.contains("shut down"), after);
            final CloneProgress p = client.progress();
            assertEquals(FerryError.DONOR_SHUTDOWN, p.error());
        }
        finally
        {
            donor.close();
        }
    }

    private static String status(final Path dst)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        assertEquals(0, FerryMain.run(new String[] { "status", "--json", dst.toString() }, new PrintWriter(out),
            new PrintWriter(err)), err.toString());
        return out.toString();
    }

    @Test
    void interruptingRunPrintsNothingAndCancelStops() throws Exception
    {
        final Path src = dataset();
        final Lines log = new Lines();
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().logger(log)).start(); FaultProxy proxy = new FaultProxy(donor.address()))
        {
            proxy.throttle(RATE);
            final PrintStream savedErr = System.err;
            final PrintStream savedOut = System.out;
            final ByteArrayOutputStream printed = new ByteArrayOutputStream();
            final List<Throwable> failures = new CopyOnWriteArrayList<>();
            System.setErr(new PrintStream(printed, true, StandardCharsets.UTF_8));
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            try
            {
                for (final boolean interrupt : new boolean[] { true, false })
                {
                    final Path dst = dir.resolve("dst-" + interrupt);
                    try (CloneClient client = new CloneClient(new InetSocketAddress("127.0.0.1", proxy.address().getPort()), dst,
                        new CloneClient.Options().threads(2).settings(new dev.ferry.core.config.CloneSettings().sync(false))))
                    {
                        final Thread t = new Thread(() ->
                        {
                            try
                            {
                                client.run();
                            }
                            catch (final Throwable ex)
                            {
                                failures.add(ex);
                            }
                        }, "clone");
                        t.start();
                        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                        while (client.progress().dataBytes() < (2L << 20))
                        {
                            assertTrue(System.nanoTime() < deadline && t.isAlive(), "no progress " + failures);
                            sleep(10);
                        }
                        if (interrupt)
                        {
                            t.interrupt();
                        }
                        else
                        {
                            client.cancel();
                        }
                        t.join(20_000);
                        assertFalse(t.isAlive(), "run() did not return");
                    }
                }
            }
            finally
            {
                System.setErr(savedErr);
                System.setOut(savedOut);
            }
            assertEquals(2, failures.size(), failures.toString());
            for (final Throwable f : failures)
            {
                assertEquals(FerryError.CANCELLED, ((FerryException)f).error(), f.toString());
            }
            assertEquals("", printed.toString(StandardCharsets.UTF_8), "the library printed");
            RemoteTestSupport.awaitCloneCount(donor, 0, "both clones ended on the donor");
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (log.lines.size() < 4 && System.nanoTime() < deadline)
            {
                sleep(10);
            }
            // the donor's log: one start and one end line per clone, with client, snapshot, bytes, rate, result
            assertEquals(4, log.lines.size(), log.lines.toString());
            for (int i = 0; i < 4; i += 2)
            {
                final String start = log.lines.get(i);
                final String end = log.lines.get(i + 1);
                assertTrue(start.startsWith("INFO clone started: client /127.0.0.1:") && start.contains(", snapshot ") &&
                    start.contains(" entries, "), start);
                assertTrue(end.startsWith("WARNING clone ended: client /127.0.0.1:") && end.contains("result CANCELLED") &&
                    end.contains(" bytes sent in ") && end.contains(" MB/s)"), end);
                assertEquals(start.split(", ")[1], end.split(", ")[1], "same snapshot: " + start + " / " + end);
            }
        }
    }

    @Test
    void cancelBeforeRunAndOneRunPerClient(@TempDir final Path other)
    {
        final CloneClient client = new CloneClient(new InetSocketAddress("127.0.0.1", 1), other.resolve("x"),
            new CloneClient.Options());
        client.cancel();
        final FerryException ex = assertThrows(FerryException.class, client::run);
        assertEquals(FerryError.CANCELLED, ex.error());
        assertEquals(FerryError.CONFIG_MISMATCH, assertThrows(FerryException.class, client::run).error());
    }
}
