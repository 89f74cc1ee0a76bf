package dev.ferry.engine.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JVM options the {@code ferry} launcher gives each command ({@code scripts/ferry-jvm.sh}, also sourced by the
 * benchmark scripts): C1 only for a clone (an update too) or local copy, the default compilers where Java code
 * hashes every file ({@code --checksum}) and for the long-lived commands, and {@code FERRY_JAVA_OPTS}, when set
 * at all, instead of any of them; and the class-data archive it maps ({@code ferry_cds_opts}): used only when newer
 * than the jar, remade when older, never left half-made, and off with {@code FERRY_CDS=0}.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LauncherOptionsTest
{
    private static final Path SCRIPT = Path.of("..", "scripts", "ferry-jvm.sh").toAbsolutePath().normalize();

    @Test
    void aPlainCloneRunsWithC1OnlyAndHashingCommandsWithC2() throws Exception
    {
        assertTrue(Files.isRegularFile(SCRIPT), SCRIPT.toString());
        assertEquals("-XX:TieredStopAtLevel=1", options(null, "clone", "--from", "h:1", "--to", "t"));
        assertEquals("-XX:TieredStopAtLevel=1", options(null, "local", "--from", "a", "--to", "b"));
        assertEquals("-XX:TieredStopAtLevel=1", options(null, "clone", "--update", "--from", "h:1", "--to", "t"));
        assertEquals("", options(null, "clone", "--update", "--resume-checksum", "--from", "h:1", "--to", "t"));
        assertEquals("", options(null, "clone", "--from", "h:1", "--to", "t", "--checksum"));
        assertEquals("", options(null, "donor", "--root", "r"));
        assertEquals("", options(null, "bench"));
        assertEquals("", options(null));
    }

    @Test
    void ferryJavaOptsReplacesThemEvenWhenEmpty() throws Exception
    {
        assertEquals("-Xmx64m -Dferry.trace=true", options("-Xmx64m -Dferry.trace=true", "clone", "--from", "h:1"));
        assertEquals("", options("", "clone", "--from", "h:1"));
    }

    @Test
    void theClassDataArchiveIsUsedOnlyWhenNewerThanTheJarAndAFailedTrainingLeavesNothing(@TempDir final Path dir)
        throws Exception
    {
        // not a jar: a training run fails at once
        final Path jar = Files.write(dir.resolve("ferry.jar"), new byte[] { 1, 2, 3 });
        Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
        assertEquals("", cds(jar, null));
        assertEquals(List.of("ferry.cds.lock", "ferry.jar"), names(dir), "a failed training leaves no archive");

        final String key = run(List.of("bash", "-c", "printf '%s' \"$(readlink -f \"$(command -v java)\")\" | cksum | " +
            "cut -d' ' -f1"), null);
        final Path jsa = Files.write(dir.resolve("ferry-" + key + ".jsa"), new byte[] { 9 });
        assertEquals("-XX:SharedArchiveFile=" + jsa, cds(jar, null), "an archive newer than the jar is used as it is");
        assertEquals("", cds(jar, "0"), "FERRY_CDS=0");

        Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        assertEquals("", cds(jar, null), "an archive older than the jar is not used");
        assertFalse(Files.exists(jsa), "the stale archive is removed when it cannot be remade");
    }

    private static String cds(final Path jar, final String ferryCds) throws IOException, InterruptedException
    {
        return run(List.of("bash", "-c", ". \"$0\"; ferry_cds_opts \"$1\"", SCRIPT.toString(), jar.toString()),
            "FERRY_CDS", ferryCds);
    }

    private static String run(final List<String> cmd, final String ferryCds) throws IOException, InterruptedException
    {
        return run(cmd, "FERRY_CDS", ferryCds);
    }

    /**
     * Run {@code cmd} with {@code variable} removed from the environment, or set to {@code value} when not null.
     *
     * @return its output, stripped; it must exit 0.
     */
    private static String run(final List<String> cmd, final String variable, final String value)
        throws IOException, InterruptedException
    {
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove(variable);
        if (value != null)
        {
            pb.environment().put(variable, value);
        }
        final Process p = pb.start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private static List<String> names(final Path dir) throws IOException
    {
        try (java.util.stream.Stream<Path> s = Files.list(dir))
        {
            return s.map(p -> p.getFileName().toString()).sorted().collect(java.util.stream.Collectors.toList());
        }
    }

    private static String options(final String ferryJavaOpts, final String... args)
        throws IOException, InterruptedException
    {
        final List<String> cmd = new ArrayList<>(List.of("bash", "-c", ". \"$0\"; ferry_jvm_opts \"$@\"",
            SCRIPT.toString()));
        cmd.addAll(List.of(args));
        return run(cmd, "FERRY_JAVA_OPTS", ferryJavaOpts);
    }
}
