package dev.ferry.engine.fs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Child JVM for {@link PathBytesTest}: lists a directory through {@link PathBytes} and prints each name as hex,
 * resolves the expected names (hex arguments) and checks they exist, and creates {@code made-<name>} for each.
 * Output is ASCII, one fact per line, so that the locale of the child does not touch it. Single-threaded.
 */
public final class PathBytesProbe
{
    static final byte[] MADE_PREFIX = { 'm', 'a', 'd', 'e', '-' };

    private PathBytesProbe()
    {
    }

    /**
     * @param args the directory (ASCII), then names as hex.
     */
    public static void main(final String[] args) throws IOException
    {
        final StringBuilder out = new StringBuilder();
        out.append("jnu=").append(System.getProperty("sun.jnu.encoding")).append('\n');
        final Path dir = Path.of(args[0]);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir))
        {
            for (final Path p : ds)
            {
                out.append("listed ").append(HexFormat.of().formatHex(PathBytes.fileName(p))).append('\n');
            }
        }
        for (int i = 1; i < args.length; i++)
        {
            final byte[] name = HexFormat.of().parseHex(args[i]);
            final Path p = PathBytes.resolve(dir, name);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && Arrays.equals(name, PathBytes.fileName(p)))
            {
                out.append("resolved ").append(args[i]).append('\n');
            }
            final byte[] made = Arrays.copyOf(MADE_PREFIX, MADE_PREFIX.length + name.length);
            System.arraycopy(name, 0, made, MADE_PREFIX.length, name.length);
            Files.createFile(PathBytes.resolve(dir, made));
        }
        System.out.print(out);
        System.out.flush();
    }
}
