package dev.ferry.core.protocol;

import java.nio.charset.StandardCharsets;

/**
 * Makes text a peer sent safe to show on a terminal or write to a log: one line, nothing a terminal interprets.
 * Control characters (C0, DEL, C1), line and paragraph separators and invisible format characters (bidirectional
 * overrides, zero-width characters) are shown as the {@code \xNN} escapes of their UTF-8 bytes, and so is every byte
 * that is not part of valid UTF-8; everything else is kept as it is. Backslashes are kept, so escaping twice changes
 * nothing: text can be escaped where it is received and again where it is printed.
 * <p>
 * Used for messages of {@code COM_RES_ERROR}, for file names and symlink targets in messages, and for I/O error texts
 * that carry them. Thread-safe: static methods only.
 */
public final class PeerText
{
    /** Characters kept by {@link #escape(String)} before it cuts the text and appends {@link #CUT}. */
    public static final int MAX_CHARS = 4096;
    /** Appended to text cut at its limit. */
    public static final String CUT = "...";

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private PeerText()
    {
    }

    /**
     * @return {@code text} escaped, at most {@link #MAX_CHARS} characters (then {@link #CUT}); "null" for null.
     */
    public static String escape(final String text)
    {
        return escape(text, MAX_CHARS);
    }

    /**
     * @return {@code text} escaped, cut after {@code maxChars} characters of output (then {@link #CUT}).
     */
    public static String escape(final String text, final int maxChars)
    {
        if (text == null)
        {
            return "null";
        }
        if (isSafe(text) && text.length() <= maxChars)
        {
            return text;
        }
        final StringBuilder sb = new StringBuilder(Math.min(text.length() + 16, maxChars + CUT.length()));
        for (int i = 0; i < text.length(); )
        {
            if (sb.length() >= maxChars)
            {
                return sb.append(CUT).toString();
            }
            final int cp = text.codePointAt(i);
            final int n = Character.charCount(cp);
            if (Character.isSurrogate(text.charAt(i)) && n == 1)
            {
                sb.append('\uFFFD'); // a lone surrogate has no UTF-8 form
            }
            else if (unsafe(cp))
            {
                for (final byte b : new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8))
                {
                    hex(sb, b & 0xFF);
                }
            }
            else
            {
                sb.appendCodePoint(cp);
            }
            i += n;
        }
        return sb.toString();
    }

    /**
     * Decode UTF-8 bytes as a peer sent them: valid sequences of safe characters are kept, every other byte is shown
     * as {@code \xNN}.
     *
     * @return the escaped text, at most {@link #MAX_CHARS} characters (then {@link #CUT}).
     */
    public static String escape(final byte[] utf8)
    {
        return escape(utf8, MAX_CHARS);
    }

    /**
     * As {@link #escape(byte[])}, cut after {@code maxChars} characters of output (then {@link #CUT}).
     */
    public static String escape(final byte[] utf8, final int maxChars)
    {
        final StringBuilder sb = new StringBuilder(Math.min(utf8.length + 16, maxChars + CUT.length()));
        int i = 0;
        while (i < utf8.length)
        {
            if (sb.length() >= maxChars)
            {
                return sb.append(CUT).toString();
            }
            final int n = sequenceLength(utf8, i);
            if (n == 0)
            {
                hex(sb, utf8[i] & 0xFF);
                i++;
                continue;
            }
            final int cp = codePoint(utf8, i, n);
            if (unsafe(cp))
            {
                for (int k = 0; k < n; k++)
                {
                    hex(sb, utf8[i + k] & 0xFF);
                }
            }
            else
            {
                sb.appendCodePoint(cp);
            }
            i += n;
        }
        return sb.toString();
    }

    /**
     * @return true if {@code text} needs no escaping.
     */
    public static boolean isSafe(final String text)
    {
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            if (c < 0x20 || c >= 0x7F && (Character.isSurrogate(c) || unsafe(c)))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Control characters, separators that break a line, and format characters that reorder or hide text.
     */
    private static boolean unsafe(final int cp)
    {
        if (cp < 0x20 || cp == 0x7F)
        {
            return true;
        }
        if (cp < 0x80)
        {
            return false;
        }
        final int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.LINE_SEPARATOR ||
            type == Character.PARAGRAPH_SEPARATOR;
    }

    /**
     * @return the length of the valid UTF-8 sequence at {@code i} (1-4), or 0 if the byte there starts none: a stray
     * continuation byte, a truncated sequence, an overlong form, a surrogate or a value above U+10FFFF.
     */
    private static int sequenceLength(final byte[] b, final int i)
    {
        final int b0 = b[i] & 0xFF;
        if (b0 < 0x80)
        {
            return 1;
        }
        final int n;
        final int min;
        if (b0 >= 0xC2 && b0 <= 0xDF)
        {
            n = 2;
            min = 0x80;
        }
        else if (b0 >= 0xE0 && b0 <= 0xEF)
        {
            n = 3;
            min = 0x800;
        }
        else if (b0 >= 0xF0 && b0 <= 0xF4)
        {
            n = 4;
            min = 0x10000;
        }
        else
        {
            return 0;
        }
        if (i + n > b.length)
        {
            return 0;
        }
        for (int k = 1; k < n; k++)
        {
            if ((b[i + k] & 0xC0) != 0x80)
            {
                return 0;
            }
        }
        final int cp = codePoint(b, i, n);
        if (cp < min || cp > Character.MAX_CODE_POINT || cp >= 0xD800 && cp <= 0xDFFF)
        {
            return 0;
        }
        return n;
    }

    private static int codePoint(final byte[] b, final int i, final int n)
    {
        switch (n)
        {
            case 1:
                return b[i];
            case 2:
                return (b[i] & 0x1F) << 6 | b[i + 1] & 0x3F;
            case 3:
                return (b[i] & 0x0F) << 12 | (b[i + 1] & 0x3F) << 6 | b[i + 2] & 0x3F;
            default:
                return (b[i] & 0x07) << 18 | (b[i + 1] & 0x3F) << 12 | (b[i + 2] & 0x3F) << 6 | b[i + 3] & 0x3F;
        }
    }

    private static void hex(final StringBuilder sb, final int b)
    {
        sb.append('\\').append('x').append(HEX[(b >>> 4) & 0xF]).append(HEX[b & 0xF]);
    }
}
