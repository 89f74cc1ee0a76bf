package dev.ferry.engine.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JVM options the {@code ferry} launcher gives each command ({@code scripts/ferry-jvm.sh}, also sourced by the
 * benchmark scripts): C1 only for a plain clone or local copy, the default compilers where Java code hashes whole
 * files ({@code --update}, {@code --checksum}) and for the long-lived commands, and {@code FERRY_JAVA_OPTS}, when set
 * at all, instead of any of them.
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
        assertEquals("", options(null, "clone", "--update", "--from", "h:1", "--to", "t"));
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

    private static String options(final String ferryJavaOpts, final String... args)
        throws IOException, InterruptedException
    {
        final List<String> cmd = new ArrayList<>(List.of("bash", "-c", ". \"$0\"; ferry_jvm_opts \"$@\"",
            SCRIPT.toString()));
        cmd.addAll(List.of(args));
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("FERRY_JAVA_OPTS");
        if (ferryJavaOpts != null)
        {
            pb.environment().put("FERRY_JAVA_OPTS", ferryJavaOpts);
        }
        final Process p = pb.start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
