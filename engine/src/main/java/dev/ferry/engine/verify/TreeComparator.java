package dev.ferry.engine.verify;

import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.recipient.PathGuard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Compares two trees entry by entry: type, size, permission bits, modification time (files and directories),
 * symlink targets, and every byte of every regular file. Used by {@code ferry demo}, the tests and {@code ferry
 * verify}. Not thread-safe.
 */
public final class TreeComparator
{
    private static final int MAX_DIFFERENCES = 50;

    private TreeComparator()
    {
    }

    /**
     * @return the differences found, at most 50; empty if the trees are identical.
     */
    public static List<String> compare(final Path expected, final Path actual)
    {
        final List<String> diffs = new ArrayList<>();
        final Manifest a = ManifestScanner.scan(expected);
        final Manifest b = ManifestScanner.scan(actual);
        final Map<String, Manifest.Entry> byPath = new HashMap<>();
        for (final Manifest.Entry e : b.entries())
        {
            byPath.put(e.path, e);
        }
        final ByteBuffer x = ByteBuffer.allocateDirect(1 << 20);
        final ByteBuffer y = ByteBuffer.allocateDirect(1 << 20);
        for (final Manifest.Entry e : a.entries())
        {
            if (diffs.size() >= MAX_DIFFERENCES)
            {
                return diffs;
            }
            final Manifest.Entry f = byPath.remove(e.path);
            final String p = PathGuard.printable(e.path);
            if (f == null)
            {
                diffs.add("missing: " + p);
                continue;
            }
            if (e.type != f.type)
            {
                diffs.add("type differs: " + p);
                continue;
            }
            if (e.isSymlink())
            {
                if (!e.linkTarget.equals(f.linkTarget))
                {
                    diffs.add("symlink target differs: " + p + " -> " + e.linkTarget + " vs " + f.linkTarget);
                }
                continue;
            }
            if (e.mode != f.mode)
            {
                diffs.add("mode differs: " + p + " " + Integer.toOctalString(e.mode) + " vs " + Integer.toOctalString(f.mode));
            }
            if (e.mtimeNanos != f.mtimeNanos)
            {
                diffs.add("mtime differs: " + p);
            }
            if (e.isRegular())
            {
                if (e.size != f.size)
                {
                    diffs.add("size differs: " + p + " " + e.size + " vs " + f.size);
                }
                else if (!sameBytes(expected.resolve(e.path), actual.resolve(f.path), x, y))
                {
                    diffs.add("content differs: " + p);
                }
            }
        }
        for (final String extra : byPath.keySet())
        {
            if (diffs.size() >= MAX_DIFFERENCES)
            {
                break;
            }
            diffs.add("unexpected: " + PathGuard.printable(extra));
        }
        return diffs;
    }

    private static boolean sameBytes(final Path p, final Path q, final ByteBuffer x, final ByteBuffer y)
    {
        try (FileChannel a = FileChannel.open(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            FileChannel b = FileChannel.open(q, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            long pos = 0;
            while (true)
            {
                x.clear();
                y.clear();
                final int n = a.read(x, pos);
                if (n < 0)
                {
                    return b.read(y, pos) < 0;
                }
                y.limit(n);
                while (y.hasRemaining())
                {
                    if (b.read(y, pos + y.position()) < 0)
                    {
                        return false;
                    }
                }
                x.flip();
                y.flip();
                if (!x.equals(y))
                {
                    return false;
                }
                pos += n;
            }
        }
        catch (final IOException ex)
        {
            return false;
        }
    }
}
