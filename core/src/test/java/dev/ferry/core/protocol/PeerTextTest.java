package dev.ferry.core.protocol;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PeerText}: what a peer's text looks like once it is safe for a terminal or a log.
 */
class PeerTextTest
{
    @Test
    void safeTextIsKeptAsItIs()
    {
        final String s = "file 'd/é ü 日本.txt' changed: size 10 vs 12 \\x41 tab-less";
        assertSame(s, PeerText.escape(s));
        assertEquals(s, PeerText.escape(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void controlCharactersAndLineBreaksBecomeHexEscapesOfTheirUtf8Bytes()
    {
        assertEquals("a\\x0ab\\x0dc\\x1b[31md\\x00e\\x7ff\\x09g", PeerText.escape("a\nb\rc\u001b[31md\0e\u007ff\tg"));
        // C1 controls (CSI), line and paragraph separators, bidi overrides, zero-width space
        assertEquals("\\xc2\\x9b1m \\xe2\\x80\\xa8 \\xe2\\x80\\xa9 \\xe2\\x80\\xae \\xe2\\x80\\x8b",
            PeerText.escape("\u009b1m \u2028 \u2029 \u202e \u200b"));
    }

    @Test
    void invalidUtf8BytesAreShownOneByOne()
    {
        final byte[] b = { 'o', 'k', (byte)0xFF, (byte)0xC0, (byte)0x80, (byte)0xE2, (byte)0x82, 'x', (byte)0xED,
            (byte)0xA0, (byte)0x80, (byte)0xF4, (byte)0x90, (byte)0x80, (byte)0x80, (byte)0xC3, (byte)0xA9 };
        // 0xFF; an overlong NUL; a truncated 3-byte sequence; a UTF-16 surrogate; a value above U+10FFFF; then é
        assertEquals("ok\\xff\\xc0\\x80\\xe2\\x82x\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80é", PeerText.escape(b));
        assertEquals("\\xe2", PeerText.escape(new byte[] { (byte)0xE2 }));
    }

    @Test
    void escapingTwiceChangesNothing()
    {
        final String once = PeerText.escape("\u001b]0;title\u0007\nnext line\u00ad");
        assertEquals(once, PeerText.escape(once));
        assertEquals(once, PeerText.escape(once.getBytes(StandardCharsets.UTF_8)));
        assertTrue(PeerText.isSafe(once));
    }

    @Test
    void longTextIsCutAtTheLimit()
    {
        final String s = "x".repeat(5000);
        assertEquals(PeerText.MAX_CHARS + PeerText.CUT.length(), PeerText.escape(s).length());
        assertEquals("xxx" + PeerText.CUT, PeerText.escape(s, 3));
        assertEquals("\\x0a\\x0a" + PeerText.CUT, PeerText.escape("\n\n\n\n".getBytes(StandardCharsets.UTF_8), 8));
        assertEquals("null", PeerText.escape((String)null));
    }
}
