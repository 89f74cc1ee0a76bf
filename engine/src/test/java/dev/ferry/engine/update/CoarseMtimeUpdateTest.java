package dev.ferry.engine.update;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.VerifyClient;

/**
 * A copy on a file system that keeps mtimes to the second (ext4 made with 128-byte inodes, loop-mounted: root only)
 * holds the donor's mtimes cut to the second. By default an update then compares every file piece by piece and warns;
 * with {@code --coarse-mtimes} it compares mtimes at that granularity: with nothing changed it keeps every file by
 * the quick check (none read or hashed) and touches no entry; a file rewritten with its size kept and a new mtime is
 * compared and mended. Before, every file failed the quick check and FILE SYNC set every entry's times again. {@code ferry verify} accepts such mtimes on that copy, and still
 * reports one cut to the second on a copy whose other entries kept their fractions.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CoarseMtimeUpdateTest
{
    @TempDir
    Path dir;

    @Test
    void anUpdateOnASecondGranularityFileSystemKeepsWhatDidNotChange() throws Exception
    {
        Assumptions.assumeTrue(TestFiles.runningAsRoot(), "mounting a loop file system needs root");
        final Path image = dir.resolve("coarse.img");
        final Path mount = Files.createDirectories(dir.resolve("mnt"));
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw"))
        {
            f.setLength(64L << 20);
        }
        Assumptions.assumeTrue(run("mkfs.ext4", "-q", "-F", "-I", "128", "-O", "^has_journal", image.toString()) == 0,
            "mkfs.ext4 -I 128 is not available");
        Assumptions.assumeTrue(run("mount", "-o", "loop", image.toString(), mount.toString()) == 0,
            "cannot loop-mount here");
        try
        {
            final Path src = dir.resolve("src");
            final Random r = new Random(42);
            final List<Path> files = new ArrayList<>();
            Files.createDirectories(src.resolve("d/e"));
            for (int i = 0; i < 12; i++)
            {
                final Path p = src.resolve((i % 3 == 0 ? "d/e/" : i % 3 == 1 ? "d/" : "") + "f" + i);
                Files.write(p, UpdateTest.random(r, i == 0 ? 3 << 20 : 1 + r.nextInt(100_000)));
                files.add(p);
            }
            // odd nanoseconds on every entry, which the copy cannot keep
            final long base = 1_700_000_000L;
            for (int i = 0; i < files.size(); i++)
            {
                Files.setLastModifiedTime(files.get(i), FileTime.from(Instant.ofEpochSecond(base + i, 123_456_789L + i)));
            }
            Files.setLastModifiedTime(src.resolve("d/e"), FileTime.from(Instant.ofEpochSecond(base, 987_654_321L)));
            Files.setLastModifiedTime(src.resolve("d"), FileTime.from(Instant.ofEpochSecond(base, 555_555_555L)));
            final Path dst = mount.resolve("copy");
            try (DonorService d = UpdateTest.donor(src))
            {
                UpdateTest.clone(d, dst, new CloneClient.Options());
                final Instant kept = Files.getLastModifiedTime(dst.resolve("f2")).toInstant();
                Assumptions.assumeTrue(kept.getNano() == 0, "this file system kept " + kept + ": not coarse");

                // by default such a copy is compared piece by piece (correct, and it reads everything), and says so
                final CloneResult plain = UpdateTest.clone(d, dst, new CloneClient.Options().update(true));
                assertEquals(0, plain.diff().keptFiles(), plain.diff().toString());
                assertEquals(files.size(), plain.diff().comparedFiles(), plain.diff().toString());
                assertEquals(0, plain.dataBytes());
                assertTrue(plain.warnings().stream().anyMatch(w -> w.contains("--coarse-mtimes")), plain.warnings()
                    .toString());

                final java.util.Map<String, Object> before = UpdateTest.ctimes(dst);
                final CloneResult none = UpdateTest.clone(d, dst, new CloneClient.Options().update(true)
                    .coarseMtimes(true));
                assertEquals(files.size(), none.diff().keptFiles(), "every file kept by the quick check: " + none.diff());
                assertEquals(0, none.diff().comparedFiles(), "none compared: " + none.diff());
                assertEquals(0, none.diff().hashedBytes(), "none read: " + none.diff());
                assertEquals(0, none.dataBytes());
                assertEquals(List.of(), UpdateTest.moved(before, UpdateTest.ctimes(dst)),
                    "a no-change update leaves every entry as it was");

                // same size, new bytes, a new mtime (in another second): compared and mended, the others kept
                final Path changed = src.resolve("d/f4");
                final byte[] now = UpdateTest.random(r, (int)Files.size(changed));
                Files.write(changed, now);
                Files.setLastModifiedTime(changed, FileTime.from(Instant.ofEpochSecond(base + 100, 1)));
                final CloneResult one = UpdateTest.clone(d, dst, new CloneClient.Options().update(true)
                    .coarseMtimes(true));
                assertEquals(files.size() - 1, one.diff().keptFiles(), one.diff().toString());
                assertTrue(java.util.Arrays.equals(now, Files.readAllBytes(dst.resolve("d/f4"))), "d/f4 mended");
                for (final Path p : files)
                {
                    final Path c = dst.resolve(src.relativize(p).toString());
                    assertTrue(java.util.Arrays.equals(Files.readAllBytes(p), Files.readAllBytes(c)), c.toString());
                    assertEquals(Files.getLastModifiedTime(p).toInstant().getEpochSecond(),
                        Files.getLastModifiedTime(c).toInstant().getEpochSecond(), "mtime of " + c);
                }

                // ferry verify judges the copy's mtimes the same way, without writing to it
                final VerifyClient coarse = new VerifyClient(d.address(), dst, new CloneClient.Options());
                assertEquals(List.of(), coarse.run());
                assertEquals(files.size() + 3, coarse.coarseMtimes(), "the files, d, d/e and the root matched to the second");
                // on a copy that keeps fractions, one mtime cut to the second is still a difference
                final Path fine = dir.resolve("fine");
                UpdateTest.clone(d, fine, new CloneClient.Options());
                final Instant was = Files.getLastModifiedTime(fine.resolve("f2")).toInstant();
                Files.setLastModifiedTime(fine.resolve("f2"), FileTime.from(Instant.ofEpochSecond(was.getEpochSecond())));
                final VerifyClient exact = new VerifyClient(d.address(), fine, new CloneClient.Options());
                assertEquals(List.of("mtime differs: f2"), exact.run());
                assertEquals(0, exact.coarseMtimes());
                // on the coarse copy, an mtime a second early (the donor's cut to two seconds, FAT's step) is a
                // difference: the copy's whole odd seconds show that it keeps one-second steps
                Files.setLastModifiedTime(dst.resolve("d/f1"), FileTime.from(Instant.ofEpochSecond(base)));
                assertEquals(List.of("mtime differs: d/f1"), new VerifyClient(d.address(), dst,
                    new CloneClient.Options()).run());
            }
        }
        finally
        {
            run("umount", mount.toString());
        }
    }

    private static int run(final String... command) throws Exception
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        final int rc = p.waitFor();
        if (rc != 0)
        {
            System.err.println(String.join(" ", command) + ": " + out.strip());
        }
        return rc;
    }
}
