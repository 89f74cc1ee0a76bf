package dev.ferry.engine.diff;

import java.nio.ByteBuffer;

/**
 * Whether bytes are all zero: the test that keeps holes off the wire (donor) and off the disk (recipient).
 * Thread-safe: stateless.
 */
public final class Zeros
{
    private Zeros()
    {
    }

    /**
     * @return true if bytes {@code [from, from + length)} of {@code b} (absolute indexes, within its limit) are 0.
     */
    public static boolean isZero(final ByteBuffer b, final int from, final int length)
    {
        final int to = from + length;
        int i = from;
        for (; i + 8 <= to; i += 8)
        {
            if (b.getLong(i) != 0)
            {
                return false;
            }
        }
        for (; i < to; i++)
        {
            if (b.get(i) != 0)
            {
                return false;
            }
        }
        return true;
    }
}
