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
            Files.walkFileTree(root, new SimpleFileVisitor<>()
            {
                @Override
                public FileVisitResult visitFile(final Path file, final BasicFileAttributes attrs) throws IOException
                {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(final Path dir, final IOException exc) throws IOException
                {
                    Files.delete(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
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
            s.filter((p) -> !p.equals(root)).forEach((p) -> out.add(root.relativize(p).toString()));
            Collections.sort(out);
            return out;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
