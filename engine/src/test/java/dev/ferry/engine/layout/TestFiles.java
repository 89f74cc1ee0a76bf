package dev.ferry.engine.layout;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * File helpers shared by the engine tests: digests, mode bits and mtimes read without following links, listings of
 * a whole tree, and making a tree writable again so that a {@code @TempDir} holding read-only directories can be
 * deleted (root ignores permission bits, other users do not). Stateless.
 */
public final class TestFiles
{

    /** Write {@code bytes} at {@code at} of {@code p}; with {@code keepMtime} its mtime is set back after. */
    public static void overwrite(final Path p, final long at, final byte[] bytes, final boolean keepMtime)
        throws IOException
    {
        final java.nio.file.attribute.FileTime t = Files.getLastModifiedTime(p);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw"))
        {
            f.seek(at);
            f.write(bytes);
        }
        if (keepMtime)
        {
            Files.setLastModifiedTime(p, t);
        }
    }
    private static final boolean ROOT = runningAsRoot();

    private TestFiles()
    {
    }

    /**
     * Give the owner rwx on every directory under {@code root} (links are not followed), so the tree can be deleted.
     */
    public static void makeWritable(final Path root)
    {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        try
        {
            Files.walkFileTree(root, new SimpleFileVisitor<>()
            {
                @Override
                public FileVisitResult preVisitDirectory(final Path dir, final BasicFileAttributes attrs) throws IOException
                {
                    Files.setAttribute(dir, "unix:mode", mode(dir) | 0700, LinkOption.NOFOLLOW_LINKS);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(final Path file, final IOException exc)
                {
                    return FileVisitResult.CONTINUE;
                }
            });
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * Make writable, then delete {@code root} and everything under it, never following links.
     */
    public static void deleteTree(final Path root)
    {
        makeWritable(root);
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        try
        {
            Files.walkFileTree(root, new dev.ferry.engine.cli.Cleaner());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * @return whether the files this test process creates belong to root: then a clone also clones owners (and the
     * set-user-ID and set-group-ID bits that go with them).
     */
    public static boolean runningAsRoot()
    {
        try
        {
            final Path probe = Files.createTempFile("ferry-uid", ".probe");
            try
            {
                return ((Integer)Files.getAttribute(probe, "unix:uid", LinkOption.NOFOLLOW_LINKS)) == 0;
            }
            finally
            {
                Files.delete(probe);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * @return the mode a clone made by this process gives an entry of {@code src} with {@code mode}: the same, since
     * owners are cloned too (as root) or the files belong to whoever runs the clone (not root).
     */
    public static int clonedMode(final Path src, final int mode)
    {
        return mode;
    }

    /**
     * @return what {@code TreeComparator.compare(src, copy)} reports for an exact clone made by this process: nothing
     * (set-user-ID and set-group-ID bits are kept now that owners are cloned).
     */
    public static List<String> expectedCloneDifferences(final Path src)
    {
        return new ArrayList<>();
    }

    /**
     * Give the regular files of {@code copy} the set-user-ID and set-group-ID bits their originals in {@code src}
     * have (what a clone run as root strips), so a test can go on comparing the trees exactly.
     */
    public static void restoreSetidBits(final Path src, final Path copy)
    {
        try
        {
            for (final Manifest.Entry e : ManifestScanner.scan(src).entries())
            {
                if (e.isRegular() && (e.mode & 06000) != 0)
                {
                    Files.setAttribute(copy.resolve(e.path()), "unix:mode", e.mode, LinkOption.NOFOLLOW_LINKS);
                }
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    public static int mode(final Path p)
    {
        try
        {
            return ((Integer)Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    public static long mtimeNanos(final Path p)
    {
        try
        {
            return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).to(TimeUnit.NANOSECONDS);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    public static String sha256(final byte[] bytes)
    {
        try
        {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    public static String sha256(final Path p)
    {
        try
        {
            return sha256(Files.readAllBytes(p));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * @return {@code n} reproducible pseudo-random bytes.
     */
    public static byte[] randomBytes(final long seed, final int n)
    {
        final SplittableRandom r = new SplittableRandom(seed);
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (byte)r.nextInt();
        }
        return b;
    }

    /**
     * @return every path under {@code root} (root excluded), relative and sorted; links are listed, not followed.
     */
    public static List<String> listAll(final Path root)
    {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS))
        {
            return Collections.emptyList();
        }
        try (Stream<Path> s = Files.walk(root))
        {
            final List<String> out = new ArrayList<>();
            // the copy's hash store is Ferry's, not part of the tree
            s.filter((p) -> !p.equals(root)).map((p) -> root.relativize(p).toString())
                .filter((r) -> !ManifestScanner.HASH_STORE.equals(r)).forEach(out::add);
            Collections.sort(out);
            return out;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
