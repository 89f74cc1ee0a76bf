package dev.ferry.engine.fs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;

/**
 * Child JVM for {@link NativeFsTest}. {@code which}: prints which implementation {@link NativeFs#instance()} chose.
 * {@code smoke DIR}: calls every function once. {@code nobody DIR}: run as an unprivileged user, tries what needs privilege and what an owner may do, one line
 * per attempt. Single-threaded.
 */
public final class NativeFsProbe
{
    private NativeFsProbe()
    {
    }

    /**
     * @param args {@code which}, or {@code smoke} or {@code nobody} and a directory the current user owns.
     */
    public static void main(final String[] args) throws IOException
    {
        final NativeFs fs = NativeFs.instance();
        if (args[0].equals("which"))
        {
            System.out.println("native=" + fs.isNative() + " " + fs.description());
            return;
        }
        final Path work = Path.of(args[1]);
        if (args[0].equals("smoke"))
        {
            smoke(fs, work);
            return;
        }
        final StringBuilder out = new StringBuilder();
        out.append("native=").append(fs.isNative()).append('\n');
        out.append("mknod-chr: ").append(attempt(() ->
            fs.mknod(PathBytes.cPath(work.resolve("chr")), EntryStat.S_IFCHR | 0600, EntryStat.makedev(1, 3)))).append('\n');
        out.append("mkfifo: ").append(attempt(() -> fs.mkfifo(PathBytes.cPath(work.resolve("fifo")), 0600))).append('\n');
        final byte[] file = PathBytes.cPath(Files.createFile(work.resolve("file")));
        out.append("trusted: ").append(attempt(() ->
            fs.setXattr(file, "trusted.x".getBytes(StandardCharsets.US_ASCII), new byte[] { 1 }))).append('\n');
        out.append("user: ").append(attempt(() ->
            fs.setXattr(file, "user.x".getBytes(StandardCharsets.US_ASCII), new byte[] { 0, (byte)0xff }) &&
            fs.getXattr(file, "user.x".getBytes(StandardCharsets.US_ASCII)).length == 2)).append('\n');
        final Path locked = Files.createFile(work.resolve("mode-000"));
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));
        final long mtime = 1_500_000_000_123_456_789L;
        out.append("native-settimes-000: ").append(attempt(() -> {
            fs.setTimes(PathBytes.cPath(locked), NativeFs.TIME_OMIT, mtime);
            return EntryStat.read(locked).mtimeNanos() == mtime;
        })).append('\n');
        out.append("java-settimes-000: ").append(attempt(() -> {
            NativeFs.pureJava().setTimes(PathBytes.cPath(locked), NativeFs.TIME_OMIT, mtime + 1000);
            return EntryStat.read(locked).mtimeNanos() == mtime + 1000;
        })).append('\n');
        System.out.print(out);
        System.out.flush();
    }

    /** Every function once, as the fallback must answer them; one line each. */
    private static void smoke(final NativeFs fs, final Path work) throws IOException
    {
        final StringBuilder out = new StringBuilder();
        out.append("native=").append(fs.isNative()).append('\n');
        out.append("syncfs=").append(fs.syncfs(work)).append('\n');
        final Path file = Files.write(work.resolve("file"), new byte[5000]);
        try (DataExtentCursor c = fs.newDataExtentCursor())
        {
            c.open(PathBytes.cPath(file));
            out.append("extents=");
            while (c.next())
            {
                out.append('[').append(c.offset()).append('+').append(c.length()).append(')');
            }
            out.append('\n');
        }
        out.append("mkfifo=").append(fs.mkfifo(PathBytes.cPath(work.resolve("fifo")), 0600)).append('\n');
        final byte[] c = PathBytes.cPath(file);
        final byte[] name = "user.x".getBytes(StandardCharsets.US_ASCII);
        out.append("setXattr=").append(fs.setXattr(c, name, new byte[] { 0, (byte)0xff })).append('\n');
        out.append("getXattr=").append(java.util.HexFormat.of().formatHex(fs.getXattr(c, name))).append('\n');
        out.append("listXattrs=").append(fs.listXattrs(c).size()).append('\n');
        fs.setTimes(c, NativeFs.TIME_OMIT, 1_000_000_000_123_456_789L);
        out.append("mtime=").append(EntryStat.read(file).mtimeNanos()).append('\n');
        System.out.print(out);
        System.out.flush();
    }

    /**
     * Copy the fs classes (main and test) and, if asked, the JNA jar into {@code dir}, readable by every user, for a child that
     * runs as nobody (the Maven repository under /root is not readable to it).
     *
     * @return {@code dir}; use {@code dir/*:dir} as class path.
     */
    static Path readableClassPath(final Path dir, final boolean withJna) throws IOException
    {
        try
        {
            copyPackage(Path.of(NativeFs.class.getProtectionDomain().getCodeSource().getLocation().toURI()), dir);
            copyPackage(Path.of(NativeFsProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI()), dir);
            if (withJna)
            {
                final Path jna = Path.of(com.sun.jna.Native.class.getProtectionDomain().getCodeSource().getLocation().toURI());
                Files.copy(jna, dir.resolve(jna.getFileName()));
            }
        }
        catch (final URISyntaxException ex)
        {
            throw new IllegalStateException(ex);
        }
        FsTestSupport.sh("chmod -R a+rX '" + dir + "'").assertOk();
        return dir;
    }

    private static void copyPackage(final Path classes, final Path dir) throws IOException
    {
        final Path pkg = Path.of("dev", "ferry", "engine", "fs");
        final Path to = Files.createDirectories(dir.resolve(pkg));
        try (Stream<Path> files = Files.list(classes.resolve(pkg)))
        {
            files.forEach(f -> {
                try
                {
                    Files.copy(f, to.resolve(f.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
            });
        }
    }

    private interface Attempt
    {
        boolean run() throws IOException;
    }

    private static String attempt(final Attempt attempt)
    {
        try
        {
            return attempt.run() ? "ok" : "returned false";
        }
        catch (final IOException | RuntimeException ex)
        {
            return ex.getClass().getSimpleName();
        }
    }
}
