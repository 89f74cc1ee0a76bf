package dev.ferry.engine.verify;

import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.XattrReader;
import dev.ferry.engine.recipient.PathGuard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
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
            byPath.put(e.path(), e);
        }
        final ByteBuffer x = ByteBuffer.allocateDirect(1 << 20);
        final ByteBuffer y = ByteBuffer.allocateDirect(1 << 20);
        for (final Manifest.Entry e : a.entries())
        {
            if (diffs.size() >= MAX_DIFFERENCES)
            {
                return diffs;
            }
            final Manifest.Entry f = byPath.remove(e.path());
            final String p = PathGuard.printable(e.path());
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
            if (e.uid != f.uid || e.gid != f.gid)
            {
                diffs.add("owner differs: " + p + " " + e.uid + ":" + e.gid + " vs " + f.uid + ":" + f.gid);
            }
            if (!xattrs(e.xattrs, e.xattrCount).equals(xattrs(f.xattrs, f.xattrCount)))
            {
                diffs.add("xattrs differ: " + p + " " + xattrs(e.xattrs, e.xattrCount) + " vs " +
                    xattrs(f.xattrs, f.xattrCount));
            }
            if (e.type == DescriptorFlyweight.FILE_HARDLINK)
            {
                if (!a.entry(e.linkIndex).path().equals(b.entry(f.linkIndex).path()))
                {
                    diffs.add("hard link differs: " + p + " is a link of " + a.entry(e.linkIndex).path() + " vs " +
                        b.entry(f.linkIndex).path());
                }
                continue;
            }
            if (e.isSymlink())
            {
                if (!Arrays.equals(e.linkTargetBytes, f.linkTargetBytes))
                {
                    diffs.add("symlink target differs: " + p + " -> " + e.linkTarget() + " vs " + f.linkTarget());
                }
                if (e.mtimeNanos != f.mtimeNanos)
                {
                    diffs.add("mtime differs: " + p);
                }
                continue;
            }
            if (e.rdev != f.rdev)
            {
                diffs.add("device number differs: " + p);
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
                else if (!sameBytes(resolve(expected, e), resolve(actual, f), x, y))
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

    private static Path resolve(final Path root, final Manifest.Entry e)
    {
        return e.isRoot() ? root : PathBytes.resolve(root, e.pathBytes);
    }

    /**
     * @return the xattrs of an entry in a canonical form (sorted by name; values in hex), for comparison and messages:
     * file systems list xattrs in no fixed order.
     */
    public static String xattrs(final byte[] section, final int count)
    {
        final List<String> out = new ArrayList<>();
        final XattrReader r = new XattrReader(section, count);
        while (r.next())
        {
            final StringBuilder sb = new StringBuilder(PathBytes.display(r.name())).append('=');
            for (final byte v : r.value())
            {
                sb.append(Character.forDigit((v >> 4) & 0xF, 16)).append(Character.forDigit(v & 0xF, 16));
            }
            out.add(sb.toString());
        }
        out.sort(null);
        return out.toString();
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
