package dev.ferry.engine.cli;

import java.util.Locale;

/**
 * Formatting of sizes and rates for people: powers of 1000 for rates (MB/s, GB/s), as peers report them.
 */
public final class Units
{
    private Units()
    {
    }

    public static String bytes(final long b)
    {
        if (b < 1000)
        {
            return b + " B";
        }
        if (b < 1000_000)
        {
            return String.format(Locale.ROOT, "%.1f kB", b / 1e3);
        }
        if (b < 1000_000_000)
        {
            return String.format(Locale.ROOT, "%.1f MB", b / 1e6);
        }
        return String.format(Locale.ROOT, "%.2f GB", b / 1e9);
    }

    public static String rate(final long bytes, final double seconds)
    {
        final double r = seconds > 0 ? bytes / seconds : 0;
        return r >= 1e9 ? String.format(Locale.ROOT, "%.2f GB/s", r / 1e9) : String.format(Locale.ROOT, "%.0f MB/s", r / 1e6);
    }

    /**
     * Parse "64M", "1g", "4096", "512k" into bytes (powers of 1024).
     */
    public static long parseSize(final String s)
    {
        final String t = s.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        String num = t;
        if (t.endsWith("k") || t.endsWith("m") || t.endsWith("g") || t.endsWith("t"))
        {
            final char u = t.charAt(t.length() - 1);
            mult = u == 'k' ? 1L << 10 : u == 'm' ? 1L << 20 : u == 'g' ? 1L << 30 : 1L << 40;
            num = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(num) * mult;
    }

    /**
     * Parse a rate limit: "30M" is 30,000,000 bytes/s, "1G" 10^9, "512k" 512,000 (powers of 1000, as rates are
     * printed), a plain number is bytes/s; "0" means no limit.
     *
     * @throws IllegalArgumentException naming the value if it is not a non-negative rate.
     */
    public static long parseRate(final String s)
    {
        final String t = s.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        String num = t;
        if (t.endsWith("k") || t.endsWith("m") || t.endsWith("g") || t.endsWith("t"))
        {
            final char u = t.charAt(t.length() - 1);
            mult = u == 'k' ? 1_000L : u == 'm' ? 1_000_000L : u == 'g' ? 1_000_000_000L : 1_000_000_000_000L;
            num = t.substring(0, t.length() - 1);
        }
        try
        {
            final long v = Long.parseLong(num);
            if (v < 0 || v > Long.MAX_VALUE / mult)
            {
                throw new NumberFormatException();
            }
            return v * mult;
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("'" + s + "' is not a rate: use bytes per second like 30M, 1G, " +
                "512k or 0 for no limit");
        }
    }
}
