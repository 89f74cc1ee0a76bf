package dev.ferry.engine.fs;

import java.net.URI;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Exact conversion between {@link Path}s and the raw bytes Linux stores as names, under any locale.
 * <p>
 * A Linux name is a sequence of bytes without '/' and NUL; it need not be text in any encoding. {@code Path.toString()}
 * decodes those bytes with {@code sun.jnu.encoding} (UTF-8 under a UTF-8 locale, ASCII under {@code LC_ALL=C}), and
 * bytes that do not decode become U+FFFD, so the String is lossy and {@code Path.of(String)} may fail on it. The JDK
 * has one exact public route: {@link Path#toUri()} percent-encodes the path's raw bytes and {@link Path#of(URI)} turns
 * the escapes back into the same bytes, whatever the locale.
 * <p>
 * That route costs a URI parse and a {@code stat} (toUri appends '/' for directories), so it is the slow path. The
 * fast path uses the String when it is provably exact: when the JNU charset is UTF-8 and the decoded String has no
 * U+FFFD (the JDK's UTF-8 decoder replaces every malformed, overlong or surrogate sequence with U+FFFD, so such a
 * String re-encodes to the original bytes), or when the String is pure ASCII and the JNU charset maps ASCII to itself
 * (then any non-ASCII byte would have shown up as a non-ASCII char). A name that legitimately contains U+FFFD only
 * takes the slow path; it still comes out exact.
 * <p>
 * Relative names from a peer are checked before they become a Path: relative, '/'-separated, no empty, "." or ".."
 * segment, no NUL, at most {@link #MAX_PATH_BYTES}. {@link #display(byte[])} shows raw bytes to people on one line.
 * <p>
 * Stateless and thread-safe; every method may be called from any thread.
 */
public final class PathBytes
{
    /** Longest path this class converts, in bytes without the NUL (Linux PATH_MAX is 4096 including the NUL). */
    public static final int MAX_PATH_BYTES = 4095;

    /** Longest single name (one path segment), in bytes (Linux NAME_MAX). */
    public static final int MAX_NAME_BYTES = 255;

    private static final byte[] ROOT = { '/' };
    private static final Path FS_ROOT = Path.of("/");
    private static final Charset JNU = jnuCharset();
    private static final boolean JNU_IS_UTF8 = JNU != null && JNU.equals(StandardCharsets.UTF_8);
    private static final boolean JNU_ASCII_COMPATIBLE = JNU != null && asciiCompatible(JNU);
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    private static final char[] HEX_UPPER = "0123456789ABCDEF".toCharArray();

    private PathBytes()
    {
    }

    /**
     * The raw bytes of {@code path} exactly as the file system sees them: relative stays relative, no NUL added.
     * The empty path gives an empty array.
     */
    public static byte[] of(final Path path)
    {
        final byte[] fast = exactBytes(path.toString());
        if (fast != null)
        {
            return fast;
        }
        if (path.isAbsolute() || path.getNameCount() <= 1)
        {
            return slowBytes(path);
        }
        // name by name, so that a ".." in a relative path (a symlink target) is never folded by the URI route
        final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < path.getNameCount(); i++)
        {
            if (i > 0)
            {
                out.write('/');
            }
            final Path name = path.getName(i);
            final byte[] b = exactBytes(name.toString());
            final byte[] raw = b != null ? b : slowBytes(name);
            out.write(raw, 0, raw.length);
        }
        return out.toByteArray();
    }

    /**
     * The raw bytes of {@code path.getFileName()}: one name, no '/'.
     *
     * @throws IllegalArgumentException if the path has no file name (the root "/" or the empty path).
     */
    public static byte[] fileName(final Path path)
    {
        final Path name = path.getFileName();
        if (name == null || name.toString().isEmpty())
        {
            throw new IllegalArgumentException("path has no file name: " + path);
        }
        return of(name);
    }

    /**
     * The bytes a native call takes for {@code path}: its absolute raw bytes followed by one NUL.
     */
    public static byte[] cPath(final Path path)
    {
        final byte[] raw = of(path.toAbsolutePath());
        final byte[] c = Arrays.copyOf(raw, raw.length + 1);
        c[raw.length] = 0;
        return c;
    }

    /**
     * @return {@code root}'s absolute path and one '/', as bytes: the prefix {@link #cPath(byte[], byte[])} takes.
     */
    public static byte[] prefix(final Path root)
    {
        final byte[] r = of(root.toAbsolutePath());
        final int n = r.length > 0 && r[r.length - 1] == '/' ? r.length - 1 : r.length;
        final byte[] prefix = Arrays.copyOf(r, n + 1);
        prefix[n] = '/';
        return prefix;
    }

    /**
     * @return the NUL-terminated native path of {@code relative} under {@code prefix} (from {@link #prefix}), with no
     *     {@link Path} made: for a path a manifest has already checked (relative, not empty, no NUL), once per file.
     */
    public static byte[] cPath(final byte[] prefix, final byte[] relative)
    {
        final byte[] c = Arrays.copyOf(prefix, prefix.length + relative.length + 1);
        System.arraycopy(relative, 0, c, prefix.length, relative.length);
        return c;
    }

    /**
     * The path a NUL-terminated native path names, exactly.
     *
     * @throws IllegalArgumentException if {@code cPath} is not absolute or not terminated by its only NUL.
     */
    public static Path fromCPath(final byte[] cPath)
    {
        final int len = checkCPath(cPath);
        if (len == 0 || cPath[0] != '/')
        {
            throw new IllegalArgumentException("native path is not absolute: " + display(cPath, 0, len));
        }
        if (len == 1)
        {
            return FS_ROOT;
        }
        return toPath(FS_ROOT, cPath, 1, len - 1);
    }

    /**
     * The path {@code relative} names under {@code root}, exactly: the result is {@code root.resolve(relative)} and its
     * {@link #of} bytes are root's bytes, '/', then {@code relative}.
     *
     * @param root     any path; a relative root gives a relative result.
     * @param relative a relative, '/'-separated path as it travels on the wire (no NUL terminator).
     * @throws IllegalArgumentException if {@code relative} is empty, absolute, too long, or has an empty, "." or ".."
     *                                  segment, a segment over {@link #MAX_NAME_BYTES} or a NUL byte.
     */
    public static Path resolve(final Path root, final byte[] relative)
    {
        return resolve(root, relative, 0, relative.length);
    }

    /**
     * {@link #resolve(Path, byte[])} for {@code length} bytes of {@code bytes} from {@code offset}.
     */
    public static Path resolve(final Path root, final byte[] bytes, final int offset, final int length)
    {
        checkRelative(bytes, offset, length);
        return toPath(root, bytes, offset, length);
    }

    /**
     * The path for a symlink target given as raw bytes: absolute or relative, ".." allowed, nothing resolved. The
     * JDK's {@code Path} folds repeated and trailing '/' of a target (so {@code "a//b/"} becomes {@code "a/b"}); every
     * other byte comes out exact.
     *
     * @throws IllegalArgumentException if the target is empty or holds a NUL byte.
     */
    public static Path linkTarget(final byte[] target)
    {
        if (target.length == 0)
        {
            throw new IllegalArgumentException("symlink target is empty");
        }
        for (final byte b : target)
        {
            if (b == 0)
            {
                throw new IllegalArgumentException("symlink target contains a NUL byte: " + display(target));
            }
        }
        final String fast = fastString(target, 0, target.length);
        if (fast != null)
        {
            return Path.of(fast);
        }
        // segment by segment: one name through the URI route never meets a ".." it could fold away
        Path p = target[0] == '/' ? FS_ROOT : null;
        int start = 0;
        for (int i = 0; i <= target.length; i++)
        {
            if (i == target.length || target[i] == '/')
            {
                if (i > start)
                {
                    final String exact = fastString(target, start, i - start);
                    final Path name = exact != null ? Path.of(exact) :
                        FS_ROOT.relativize(toPath(FS_ROOT, target, start, i - start));
                    p = p == null ? name : p.resolve(name);
                }
                start = i + 1;
            }
        }
        return p == null ? FS_ROOT : p;
    }

    /**
     * Check that {@code length} bytes of {@code bytes} from {@code offset} form a relative path this class resolves.
     *
     * @throws IllegalArgumentException saying what is wrong, with the path shown by {@link #display(byte[])}.
     */
    public static void checkRelative(final byte[] bytes, final int offset, final int length)
    {
        if (length <= 0)
        {
            throw new IllegalArgumentException("relative path is empty");
        }
        if (length > MAX_PATH_BYTES)
        {
            throw refused(bytes, offset, length, "it is longer than " + MAX_PATH_BYTES + " bytes");
        }
        if (bytes[offset] == '/')
        {
            throw refused(bytes, offset, length, "it is absolute");
        }
        int start = offset;
        final int end = offset + length;
        for (int i = offset; i <= end; i++)
        {
            if (i == end || bytes[i] == '/')
            {
                final int segment = i - start;
                if (segment == 0)
                {
                    throw refused(bytes, offset, length, "it has an empty segment");
                }
                if (bytes[start] == '.' && (segment == 1 || (segment == 2 && bytes[start + 1] == '.')))
                {
                    throw refused(bytes, offset, length, "it has a '.' or '..' segment");
                }
                if (segment > MAX_NAME_BYTES)
                {
                    throw refused(bytes, offset, length, "a segment is longer than " + MAX_NAME_BYTES + " bytes");
                }
                start = i + 1;
            }
            else if (bytes[i] == 0)
            {
                throw refused(bytes, offset, length, "it contains a NUL byte");
            }
        }
    }

    /**
     * Show raw name bytes to a person on one line: UTF-8 as text; every byte that is not part of valid UTF-8, every
     * control character (C0, DEL, C1), line or paragraph separator and bidirectional formatting character as
     * {@code \xNN} per byte; a backslash as {@code \\}, so that the display is unambiguous.
     */
    public static String display(final byte[] bytes)
    {
        return display(bytes, 0, bytes.length);
    }

    /**
     * {@link #display(byte[])} for {@code length} bytes of {@code bytes} from {@code offset}.
     */
    public static String display(final byte[] bytes, final int offset, final int length)
    {
        // nearly every name is printable ASCII without a backslash: shown as it is, one copy (a manifest entry's
        // display was a StringBuilder append per byte, measurable in a short-lived client's manifest)
        int i0 = offset;
        final int end0 = offset + length;
        while (i0 < end0 && bytes[i0] >= 0x20 && bytes[i0] < 0x7f && bytes[i0] != '\\')
        {
            i0++;
        }
        if (i0 == end0)
        {
            return new String(bytes, offset, length, StandardCharsets.ISO_8859_1);
        }
        final StringBuilder sb = new StringBuilder(length + 8);
        final int end = offset + length;
        int i = offset;
        while (i < end)
        {
            final int b = bytes[i] & 0xff;
            final int n = Utf8.sequenceLength(bytes, i, end);
            if (n == 1)
            {
                if (b < 0x20 || b == 0x7f)
                {
                    escape(sb, b);
                }
                else if (b == '\\')
                {
                    sb.append("\\\\");
                }
                else
                {
                    sb.append((char)b);
                }
            }
            else if (n > 1)
            {
                final int cp = Utf8.decode(bytes, i, n);
                if (unsafeForTerminal(cp))
                {
                    for (int k = 0; k < n; k++)
                    {
                        escape(sb, bytes[i + k] & 0xff);
                    }
                }
                else
                {
                    sb.appendCodePoint(cp);
                }
            }
            else
            {
                escape(sb, b);
            }
            i += Math.max(n, 1);
        }
        return sb.toString();
    }

    /** The bytes the JDK would use for {@code s} as a name, or null if the JDK's String is not provably exact. */
    static byte[] exactBytes(final String s)
    {
        return exactAsString(s) ? s.getBytes(JNU_IS_UTF8 ? StandardCharsets.UTF_8 : StandardCharsets.US_ASCII) : null;
    }

    /** The String the JDK turns back into exactly these bytes, or null if there is none by the fast rule. */
    static String exactString(final byte[] bytes, final int offset, final int length)
    {
        return fastString(bytes, offset, length);
    }

    static boolean exactAsString(final String s)
    {
        if (JNU_IS_UTF8)
        {
            return s.indexOf('\uFFFD') < 0;
        }
        if (!JNU_ASCII_COMPATIBLE)
        {
            return false;
        }
        for (int i = 0, n = s.length(); i < n; i++)
        {
            if (s.charAt(i) >= 0x80)
            {
                return false;
            }
        }
        return true;
    }

    private static Path toPath(final Path root, final byte[] bytes, final int offset, final int length)
    {
        final String fast = fastString(bytes, offset, length);
        if (fast != null)
        {
            return root.resolve(fast);
        }
        // "/" + relative as a file URI; Path.of(URI) restores the bytes, relativize drops the leading '/' exactly.
        final StringBuilder sb = new StringBuilder(8 + length * 3);
        sb.append("file:///");
        percentEncode(sb, bytes, offset, length);
        final Path absolute = Path.of(URI.create(sb.toString()));
        return root.resolve(FS_ROOT.relativize(absolute));
    }

    private static String fastString(final byte[] bytes, final int offset, final int length)
    {
        if (JNU_IS_UTF8)
        {
            final String s = new String(bytes, offset, length, StandardCharsets.UTF_8);
            return s.indexOf('\uFFFD') < 0 ? s : null;
        }
        if (!JNU_ASCII_COMPATIBLE)
        {
            return null;
        }
        for (int i = offset, end = offset + length; i < end; i++)
        {
            if (bytes[i] < 0)
            {
                return null;
            }
        }
        return new String(bytes, offset, length, StandardCharsets.US_ASCII);
    }

    private static byte[] slowBytes(final Path path)
    {
        final boolean relative = !path.isAbsolute();
        final Path absolute = relative ? FS_ROOT.resolve(path) : path;
        final String raw = absolute.toUri().getRawPath();
        final byte[] out = new byte[raw.length()];
        int n = 0;
        for (int i = 0, len = raw.length(); i < len; i++)
        {
            final char c = raw.charAt(i);
            if (c == '%')
            {
                out[n++] = (byte)((Character.digit(raw.charAt(i + 1), 16) << 4) | Character.digit(raw.charAt(i + 2), 16));
                i += 2;
            }
            else
            {
                out[n++] = (byte)c;
            }
        }
        if (n > 1 && out[n - 1] == '/')
        {
            n--; // toUri marks directories with a trailing '/'; a Path never ends with one except "/" itself
        }
        return relative ? Arrays.copyOfRange(out, 1, n) : (n == out.length ? out : Arrays.copyOf(out, n));
    }

    private static void percentEncode(final StringBuilder sb, final byte[] bytes, final int offset, final int length)
    {
        for (int i = offset, end = offset + length; i < end; i++)
        {
            final int b = bytes[i] & 0xff;
            if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                b == '/' || b == '-' || b == '.' || b == '_' || b == '~')
            {
                sb.append((char)b);
            }
            else
            {
                sb.append('%').append(HEX_UPPER[b >> 4]).append(HEX_UPPER[b & 0xf]);
            }
        }
    }

    static int checkCPath(final byte[] cPath)
    {
        final int len = cPath.length - 1;
        if (len < 0 || cPath[len] != 0)
        {
            throw new IllegalArgumentException("native path is not NUL-terminated");
        }
        if (len > MAX_PATH_BYTES)
        {
            throw new IllegalArgumentException("native path is longer than " + MAX_PATH_BYTES + " bytes");
        }
        for (int i = 0; i < len; i++)
        {
            if (cPath[i] == 0)
            {
                throw new IllegalArgumentException("native path has a NUL byte before its end: " + display(cPath, 0, i));
            }
        }
        return len;
    }

    private static boolean unsafeForTerminal(final int cp)
    {
        return (cp >= 0x80 && cp <= 0x9f) ||                // C1 controls (0x9b is CSI on some terminals)
            cp == 0x2028 || cp == 0x2029 ||                  // line and paragraph separators
            (cp >= 0x200e && cp <= 0x200f) ||                // LRM, RLM
            (cp >= 0x202a && cp <= 0x202e) ||                // bidi embeddings and overrides
            (cp >= 0x2066 && cp <= 0x2069) ||                // bidi isolates
            cp == 0xfeff;                                    // zero width no-break space (BOM)
    }

    private static void escape(final StringBuilder sb, final int b)
    {
        sb.append('\\').append('x').append(HEX[b >> 4]).append(HEX[b & 0xf]);
    }

    private static IllegalArgumentException refused(final byte[] bytes, final int offset, final int length, final String why)
    {
        final int shown = Math.min(length, 300);
        return new IllegalArgumentException(
            "path '" + display(bytes, offset, shown) + (shown < length ? "...'" : "'") + " refused: " + why);
    }

    private static Charset jnuCharset()
    {
        try
        {
            return Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        }
        catch (final RuntimeException ex)
        {
            return null; // unknown charset: every conversion takes the exact URI route
        }
    }

    private static boolean asciiCompatible(final Charset cs)
    {
        final byte[] ascii = new byte[127];
        for (int i = 0; i < ascii.length; i++)
        {
            ascii[i] = (byte)(i + 1);
        }
        final String s = new String(ascii, cs);
        if (s.length() != ascii.length)
        {
            return false;
        }
        for (int i = 0; i < ascii.length; i++)
        {
            if (s.charAt(i) != i + 1)
            {
                return false;
            }
        }
        return Arrays.equals(s.getBytes(cs), ascii);
    }

    /** Strict UTF-8 sequence checks for {@link #display}: no overlong forms, surrogates or code points past U+10FFFF. */
    private static final class Utf8
    {
        /** @return the length of the valid sequence at {@code i}, or 0 if the byte there starts none. */
        static int sequenceLength(final byte[] b, final int i, final int end)
        {
            final int b0 = b[i] & 0xff;
            if (b0 < 0x80)
            {
                return 1;
            }
            final int n;
            final int min;
            final int max;
            if (b0 >= 0xc2 && b0 <= 0xdf)
            {
                n = 2;
                min = 0x80;
                max = 0xbf;
            }
            else if (b0 >= 0xe0 && b0 <= 0xef)
            {
                n = 3;
                min = b0 == 0xe0 ? 0xa0 : 0x80;
                max = b0 == 0xed ? 0x9f : 0xbf;
            }
            else if (b0 >= 0xf0 && b0 <= 0xf4)
            {
                n = 4;
                min = b0 == 0xf0 ? 0x90 : 0x80;
                max = b0 == 0xf4 ? 0x8f : 0xbf;
            }
            else
            {
                return 0;
            }
            if (i + n > end)
            {
                return 0;
            }
            final int b1 = b[i + 1] & 0xff;
            if (b1 < min || b1 > max)
            {
                return 0;
            }
            for (int k = 2; k < n; k++)
            {
                final int bk = b[i + k] & 0xff;
                if (bk < 0x80 || bk > 0xbf)
                {
                    return 0;
                }
            }
            return n;
        }

        static int decode(final byte[] b, final int i, final int n)
        {
            int cp = (b[i] & 0xff) & (0xff >> (n + 1));
            for (int k = 1; k < n; k++)
            {
                cp = (cp << 6) | (b[i + k] & 0x3f);
            }
            return cp;
        }
    }
}
