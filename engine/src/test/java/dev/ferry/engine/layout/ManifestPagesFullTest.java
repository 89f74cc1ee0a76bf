package dev.ferry.engine.layout;

import dev.ferry.engine.cli.FerryMain;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The manifest's pages live in files mapped from {@code /dev/shm} ({@code ferry.manifest.dir}). When that file system
 * is full, a clone fails with a clear IO_ERROR naming the directory and what to do, not with a SIGBUS turned into an
 * INTERNAL error at the first touch of a page it could not back. A child JVM runs {@code ferry local} of 30,000
 * entries with its page directory on a 1 MiB tmpfs (root only: the test mounts it).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ManifestPagesFullTest
{
    @TempDir
    Path base;

    @Test
    void aFullPageDirectoryIsAClearErrorNotACrash() throws Exception
    {
        Assumptions.assumeTrue(TestFiles.runningAsRoot(), "mounting a tmpfs needs root");
        final Path pages = Files.createDirectories(base.resolve("pages"));
        final Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", pages.toString())
            .redirectErrorStream(true).start();
        final String mountOut = new String(mount.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Assumptions.assumeTrue(mount.waitFor() == 0, "cannot mount a tmpfs here: " + mountOut);
        try
        {
            // past the first page, which is direct memory: 30,000 entries need mapped pages (48 bytes each)
            for (int d = 0; d < 30; d++)
            {
                final Path dir = Files.createDirectories(base.resolve("src/d" + d));
                for (int i = 0; i < 1_000; i++)
                {
                    Files.createFile(dir.resolve("f" + i));
                }
            }
            final Path stderr = base.resolve("stderr");
            final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            final Process child = new ProcessBuilder(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
                "-D" + PagedStore.DIR_PROP_NAME + "=" + pages, "-cp", System.getProperty("java.class.path"),
                FerryMain.class.getName(), "local", base.resolve("src").toString(), base.resolve("dst").toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(stderr.toFile()).start();
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child did not end");
            final String err = Files.readString(stderr, StandardCharsets.ISO_8859_1).strip();
            assertEquals(FerryMain.EXIT_FAILURE, child.exitValue(), err);
            final String last = err.substring(err.lastIndexOf('\n') + 1);
            assertTrue(last.startsWith("ferry: error: IO_ERROR: cannot map a manifest page in " + pages), last);
            assertTrue(last.contains("No space left on device") && last.contains(PagedStore.DIR_PROP_NAME), last);
            assertFalse(err.contains("INTERNAL") || err.contains("\tat "), err);
        }
        finally
        {
            new ProcessBuilder("umount", pages.toString()).inheritIO().start().waitFor();
        }
    }
}
