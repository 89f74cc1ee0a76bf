package dev.ferry.engine.layout;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;

/**
 * Walks a donor root without following symlinks and builds a {@link Manifest}: pre-order, children sorted by name,
 * so parents always come before their children and two scans of an unchanged tree agree. Not thread-safe.
 */
public final class ManifestScanner
{
    /** The recipient keeps its incomplete-clone state under this top-level name, so a donor may not ship it. */
    public static final String STATE_DIR = ".ferry";

    private static final String ATTRIBUTES = "unix:mode,size,lastModifiedTime,isDirectory,isSymbolicLink,isRegularFile";

    private final List<Manifest.Entry> entries = new ArrayList<>();
    private int skipped;

    /**
     * @param root the directory to snapshot.
     * @return its manifest.
     * @throws FerryException if the root is not a directory or cannot be read.
     */
    public static Manifest scan(final Path root)
    {
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS))
        {
            throw new FerryException(ErrorCode.IO_ERROR, "donor root " + root + " is not a directory");
        }
        final ManifestScanner scanner = new ManifestScanner();
        try
        {
            scanner.walk(root, "");
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.IO_ERROR, "cannot scan " + root + ": " + ex, ex);
        }
        return new Manifest(scanner.entries, scanner.skipped);
    }

    private void walk(final Path dir, final String prefix) throws IOException
    {
        final List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir))
        {
            for (final Path child : stream)
            {
                children.add(child);
            }
        }
        children.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        for (final Path child : children)
        {
            final String name = child.getFileName().toString();
            if (prefix.isEmpty() && name.equals(STATE_DIR))
            {
                skipped++;
                continue;
            }
            final String rel = prefix.isEmpty() ? name : prefix + "/" + name;
            if (Wire.utf8(rel).length > Wire.MAX_STRING_BYTES)
            {
                throw new FerryException(ErrorCode.IO_ERROR, "path longer than " + Wire.MAX_STRING_BYTES +
                    " bytes: " + rel);
            }
            final Map<String, Object> a = Files.readAttributes(child, ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
            final int mode = ((Integer)a.get("mode")) & 07777;
            final long mtime = ((FileTime)a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS);
            final int index = entries.size();
            if (Boolean.TRUE.equals(a.get("isSymbolicLink")))
            {
                final String target = Files.readSymbolicLink(child).toString();
                entries.add(new Manifest.Entry(index, rel, DescriptorFlyweight.FILE_SYMLINK, 0, mode, mtime, target));
            }
            else if (Boolean.TRUE.equals(a.get("isDirectory")))
            {
                entries.add(new Manifest.Entry(index, rel, DescriptorFlyweight.FILE_DIRECTORY, 0, mode, mtime, null));
                walk(child, rel);
            }
            else if (Boolean.TRUE.equals(a.get("isRegularFile")))
            {
                entries.add(new Manifest.Entry(
                    index, rel, DescriptorFlyweight.FILE_REGULAR, (Long)a.get("size"), mode, mtime, null));
            }
            else
            {
                skipped++;
            }
        }
    }
}
