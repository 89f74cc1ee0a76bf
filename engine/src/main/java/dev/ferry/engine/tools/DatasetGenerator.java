package dev.ferry.engine.tools;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/**
 * Writes reproducible test and demo datasets: incompressible bytes from a seeded generator, large and small files
 * in nested directories, an empty file, an empty directory and a symlink. Not thread-safe.
 */
public final class DatasetGenerator
{
    private final SplittableRandom random;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
    private long bytes;
    private int files;

    public DatasetGenerator(final long seed)
    {
        this.random = new SplittableRandom(seed);
    }

    public long bytes()
    {
        return bytes;
    }

    public int files()
    {
        return files;
    }

    /**
     * A mixed tree: {@code largeFiles} files of {@code largeSize} bytes and {@code smallFiles} files of 1-64 KiB
     * spread over {@code smallFiles / 100 + 1} directories.
     */
    public void mixed(final Path root, final int largeFiles, final long largeSize, final int smallFiles) throws IOException
    {
        Files.createDirectories(root);
        final Path large = Files.createDirectories(root.resolve("large"));
        for (int i = 0; i < largeFiles; i++)
        {
            file(large.resolve("blob-" + i + ".bin"), largeSize);
        }
        final int dirs = smallFiles / 100 + 1;
        for (int i = 0; i < smallFiles; i++)
        {
            final Path dir = Files.createDirectories(root.resolve("small").resolve("d" + (i % dirs)));
            file(dir.resolve("f" + i + ".dat"), 1024 + random.nextInt(63 * 1024 + 1));
        }
        Files.createDirectories(root.resolve("empty-dir"));
        file(root.resolve("empty-file"), 0);
        Files.createSymbolicLink(root.resolve("link-to-large"), Path.of("large"));
    }

    /**
     * The many-files set of issue 10 (as {@code scripts/make-million.sh} makes it): {@code files} files of 0-96
     * random bytes spread evenly over {@code dirs} directories, {@code root/dNNNN/fNNNNNNN}.
     */
    public void manyTiny(final Path root, final int files, final int dirs) throws IOException
    {
        final int perDir = (files + dirs - 1) / dirs;
        int n = 0;
        for (int d = 0; d < dirs && n < files; d++)
        {
            final Path dir = Files.createDirectories(root.resolve(String.format(java.util.Locale.ROOT, "d%04d", d)));
            for (int i = 0; i < perDir && n < files; i++, n++)
            {
                file(dir.resolve(String.format(java.util.Locale.ROOT, "f%07d", n)), random.nextInt(97));
            }
        }
    }

    /**
     * Write one file of {@code size} random bytes.
     */
    public void file(final Path path, final long size) throws IOException
    {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            long left = size;
            while (left > 0)
            {
                buffer.clear();
                final int n = (int)Math.min(left, buffer.capacity());
                while (buffer.position() + 8 <= n)
                {
                    buffer.putLong(random.nextLong());
                }
                while (buffer.position() < n)
                {
                    buffer.put((byte)random.nextInt());
                }
                buffer.flip();
                while (buffer.hasRemaining())
                {
                    ch.write(buffer);
                }
                left -= n;
            }
        }
        bytes += size;
        files++;
    }
}
