package dev.ferry.engine.faithful;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Child JVMs and shell commands for the issue 9 tests: a JVM as uid 65534 (through {@code setpriv}) or under another
 * locale, with this JVM's class path copied where that user can read it, and shell commands that make or inspect
 * bytes without the code under test. Stateless; any thread.
 */
public final class ChildJvm
{
    public static final int NOBODY = 65534;
    private static final long TIMEOUT_SECONDS = 180;

    private ChildJvm()
    {
    }

    /** What a child printed on stdout and stderr, and how it ended. */
    public record Result(int exitCode, String stdout, String stderr)
    {
        public Result assertOk()
        {
            if (exitCode != 0)
            {
                throw new AssertionError("child failed with " + exitCode + ":\n" + stdout + "\n" + stderr);
            }
            return this;
        }
    }

    /**
     * Start {@code mainClass} in a child JVM.
     *
     * @param nobody run it as uid/gid 65534 with no supplementary groups.
     */
    public static Process start(final boolean nobody, final List<String> jvm, final Map<String, String> env,
        final String classPath, final String mainClass, final List<String> args) throws IOException
    {
        final List<String> cmd = new ArrayList<>();
        if (nobody)
        {
            cmd.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("--add-exports");
        cmd.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        cmd.addAll(jvm);
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(mainClass);
        cmd.addAll(args);
        final ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        return pb.start();
    }

    /** Run {@link #start} to its end and collect both streams (each read on its own thread, so neither blocks). */
    public static Result run(final boolean nobody, final List<String> jvm, final Map<String, String> env,
        final String classPath, final String mainClass, final List<String> args) throws Exception
    {
        return finish(start(nobody, jvm, env, classPath, mainClass, args));
    }

    public static Result finish(final Process p) throws Exception
    {
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final Thread drain = new Thread(() -> copy(p.getErrorStream(), err), "child-stderr");
        drain.setDaemon(true);
        drain.start();
        final byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS))
        {
            p.destroyForcibly();
            throw new AssertionError("child did not finish within " + TIMEOUT_SECONDS + " s");
        }
        drain.join(TimeUnit.SECONDS.toMillis(10));
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8),
            new String(err.toByteArray(), StandardCharsets.UTF_8));
    }

    private static void copy(final InputStream in, final ByteArrayOutputStream to)
    {
        try
        {
            in.transferTo(to);
        }
        catch (final IOException ignore)
        {
            // the child ended
        }
    }

    /**
     * This JVM's class path copied under {@code to} where uid 65534 can read it (the Maven repository under /root is
     * not), as a class path string.
     */
    public static String readableClassPath(final Path to) throws IOException
    {
        Files.createDirectories(to);
        int n = 0;
        for (final String entry : System.getProperty("java.class.path").split(File.pathSeparator))
        {
            final Path p = Path.of(entry);
            if (Files.isDirectory(p))
            {
                sh("cp -a '" + p + "' '" + to.resolve("d" + n++) + "'");
            }
            else if (Files.isRegularFile(p))
            {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
        sh("chmod -R a+rX '" + to + "'");
        final List<String> parts = new ArrayList<>();
        try (var s = Files.list(to))
        {
            s.sorted().forEach(p -> parts.add(p.toString()));
        }
        return String.join(File.pathSeparator, parts);
    }

    /** Run {@code /bin/sh -c script}; fails the test if it fails. @return its output. */
    public static String sh(final String script)
    {
        try
        {
            final Process p = new ProcessBuilder("/bin/sh", "-c", script).redirectErrorStream(true).start();
            final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0)
            {
                throw new AssertionError("sh failed: " + script + "\n" + out);
            }
            return out;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError(ex);
        }
    }

    /**
     * The target of the symlink {@code asciiName} in {@code dir} (an ASCII path), byte for byte as
     * {@code /usr/bin/readlink} prints it: independent of the code under test.
     */
    public static byte[] readlinkBytes(final Path dir, final String asciiName) throws Exception
    {
        final Process p = new ProcessBuilder("/usr/bin/readlink", "-n", "--", asciiName).directory(dir.toFile())
            .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        final byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0)
        {
            throw new AssertionError("readlink failed on " + dir.resolve(asciiName));
        }
        return out;
    }
}
