package dev.ferry.engine.fs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Child processes for the fs tests: shell commands that make or inspect names byte for byte (so the test does not
 * depend on the code it checks), and child JVMs under another locale or user. Stateless; any thread.
 */
final class FsTestSupport
{
    static final int NOBODY = 65534;
    private static final long TIMEOUT_SECONDS = 60;

    private FsTestSupport()
    {
    }

    /** What a child printed and how it ended. */
    record Result(int exitCode, byte[] stdout, String stderr)
    {
        String out()
        {
            return new String(stdout, StandardCharsets.UTF_8);
        }

        Result assertOk()
        {
            if (exitCode != 0)
            {
                throw new AssertionError("child failed with " + exitCode + ": " + out() + stderr);
            }
            return this;
        }
    }

    static boolean isRoot()
    {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Run {@code /bin/sh -c script} with ASCII-only text; raw bytes go in as printf escapes. */
    static Result sh(final String script)
    {
        return run(List.of("/bin/sh", "-c", script), Map.of());
    }

    /** The names in {@code dir} (ASCII path) as hex, one per line, from the shell: independent of PathBytes. */
    static List<String> namesByShell(final Path dir)
    {
        return namesByShell(dir, null);
    }

    /** {@link #namesByShell(Path)} of the subdirectory named {@code sub} (raw bytes; null for dir itself). */
    static List<String> namesByShell(final Path dir, final byte[] sub)
    {
        final String cdSub = sub == null ? "" : " && n=" + printfWord(sub) + " && cd \"${n%x}\"";
        final String out = sh("cd '" + dir + "'" + cdSub + " && for f in *; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; " +
            "printf '%s' \"$f\" | od -An -v -tx1 | tr -d ' \\n'; echo; done").assertOk().out();
        final List<String> names = new ArrayList<>();
        for (final String line : out.split("\n"))
        {
            if (!line.isEmpty())
            {
                names.add(line);
            }
        }
        return names;
    }

    /** A shell word that makes exactly {@code bytes} with printf (octal escapes), for names in scripts. */
    static String printfWord(final byte[] bytes)
    {
        final StringBuilder sb = new StringBuilder("\"$(printf '");
        for (final byte b : bytes)
        {
            sb.append('\\').append(Integer.toOctalString(b & 0xff));
        }
        // command substitution drops trailing newlines: add a guard character and strip it
        return sb.append("x')\"").toString();
    }

    /** Touch a file named exactly {@code name} in {@code dir} (ASCII path), by the shell. */
    static void touchByShell(final Path dir, final byte[] name)
    {
        sh("cd '" + dir + "' && n=" + printfWord(name) + " && touch \"${n%x}\"").assertOk();
    }

    static String hex(final byte[] bytes)
    {
        return HexFormat.of().formatHex(bytes);
    }

    static byte[] unhex(final String hex)
    {
        return HexFormat.of().parseHex(hex);
    }

    /**
     * {@code stat -c format} of the entry itself (not following a symlink); the path goes to the shell as printf
     * escapes of its raw bytes, so any name works.
     */
    static String stat(final Path path, final String format)
    {
        final Result r = sh("n=" + printfWord(PathBytes.of(path.toAbsolutePath())) + " && stat -c '" + format +
            "' \"${n%x}\"");
        return r.assertOk().out().trim();
    }

    /**
     * A JVM running {@code main} with this test's class path.
     *
     * @param env      replaces the locale variables (and anything else named) of the child's environment.
     * @param asNobody run as uid/gid 65534 through setpriv (the class path must be readable by that user).
     */
    static Result java(
        final Class<?> main, final List<String> jvmArgs, final Map<String, String> env, final String classPath,
        final boolean asNobody, final String... args)
    {
        final List<String> cmd = new ArrayList<>();
        if (asNobody)
        {
            cmd.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx64m");
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        return run(cmd, env);
    }

    static Result run(final List<String> cmd, final Map<String, String> env)
    {
        try
        {
            final ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(env);
            final Process p = pb.start();
            p.getOutputStream().close();
            final byte[][] err = new byte[1][];
            final Thread errReader = new Thread(() -> err[0] = readAll(p.getErrorStream()), "child-stderr");
            errReader.start();
            final byte[] out = readAll(p.getInputStream());
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS))
            {
                p.destroyForcibly();
                throw new AssertionError("child did not finish in " + TIMEOUT_SECONDS + " s: " + cmd);
            }
            errReader.join(TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            return new Result(p.exitValue(), out, err[0] == null ? "" : new String(err[0], StandardCharsets.UTF_8));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", ex);
        }
    }

    private static byte[] readAll(final InputStream in)
    {
        try (in)
        {
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
