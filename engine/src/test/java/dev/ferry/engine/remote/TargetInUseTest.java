package dev.ferry.engine.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.tools.DatasetGenerator;

/**
 * Two clients into one target, as real processes: while a clone runs, a second {@code --resume} into the same target
 * (what an impatient operator types) is refused at once with TARGET_IN_USE, touches nothing, and the donor and the
 * first clone carry on to an identical copy. Twenty rounds, so a race has room to show.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class TargetInUseTest
{
    private static final int ROUNDS = 20;

    @TempDir
    Path dir;

    @Test
    void aConcurrentResumeIntoTheSameTargetIsRefusedAndTheFirstCloneFinishes() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(8).mixed(src, 1, 256L * 1024, 40);
        final List<String> expected = TestFiles.listAll(src);
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .settings(new CloneSettings().blockSize(64 * 1024).chunkSize(1024 * 1024))).start();
            FaultProxy proxy = new FaultProxy(donor.address()))
        {
            proxy.throttle(768 * 1024); // per connection: the first clone runs for about a second after it took the lock
            final InetSocketAddress via = proxy.address();
            for (int round = 0; round < ROUNDS; round++)
            {
                final long t0 = System.nanoTime();
                final Path dst = dir.resolve("dst-" + round);
                final Process first = child(via, dst, false, dir.resolve("first-" + round + ".log"));
                final Path lock = dst.resolve(".ferry/lock");
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while ((!Files.exists(lock) || Files.size(lock) == 0) && first.isAlive() && System.nanoTime() < deadline)
                {
                    Thread.sleep(5);
                }
                final long tl = System.nanoTime();
                assertTrue(first.isAlive(), "the first clone ended before the second could start: " +
                    Files.readString(dir.resolve("first-" + round + ".log")));
                final Path secondLog = dir.resolve("second-" + round + ".log");
                final Process second = child(via, dst, true, secondLog);
                assertTrue(second.waitFor(30, TimeUnit.SECONDS), "the second client did not give up");
                final long ts = System.nanoTime();
                final String said = Files.readString(secondLog);
                assertEquals(1, second.exitValue(), said);
                assertTrue(said.contains("error TARGET_IN_USE: " + dst + " is being written by another ferry clone (pid " +
                    first.pid() + " on "), said);
                assertTrue(first.isAlive() || first.exitValue() == 0, "the first clone failed: " +
                    Files.readString(dir.resolve("first-" + round + ".log")));
                assertTrue(first.waitFor(120, TimeUnit.SECONDS), "the first clone did not finish");
                assertEquals(0, first.exitValue(), Files.readString(dir.resolve("first-" + round + ".log")));
                assertFalse(Files.exists(dst.resolve(".ferry")), "a finished copy keeps no state");
                assertEquals(expected, TestFiles.listAll(dst));
                for (final String p : expected)
                {
                    final Path s = src.resolve(p);
                    if (Files.isRegularFile(s))
                    {
                        assertEquals(TestFiles.sha256(s), TestFiles.sha256(dst.resolve(p)), p);
                    }
                }
                final long t1 = System.nanoTime();
                RemoteTestSupport.awaitCloneCount(donor, 0, "the donor released the snapshot of round " + round);
                System.out.printf("TargetInUseTest round %d: lock after %d ms, second done after %d ms, first after %d ms%n",
                    round, (tl - t0) / 1_000_000, (ts - t0) / 1_000_000, (t1 - t0) / 1_000_000);
            }
            // the donor is still up and serving
            new CloneClient(donor.address(), dir.resolve("after"), new CloneClient.Options()).run();
            assertEquals(expected, TestFiles.listAll(dir.resolve("after")));
        }
    }

    private static Process child(final InetSocketAddress via, final Path dst, final boolean resume, final Path log)
        throws IOException
    {
        final List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx128m",
            "-cp", System.getProperty("java.class.path"), CloneChild.class.getName(), "127.0.0.1",
            String.valueOf(via.getPort()), dst.toString()));
        if (resume)
        {
            cmd.add("resume");
        }
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }
}
