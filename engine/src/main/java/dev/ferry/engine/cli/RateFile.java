package dev.ferry.engine.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Locale;

import dev.ferry.engine.donor.DonorService;

/**
 * {@code ferry donor --rate-file FILE}: the donor's rate limits, changed without a restart. The file holds lines
 * {@code max-rate=RATE} and {@code max-total-rate=RATE} ({@link Units#parseRate}; {@code #} starts a comment); a key
 * that is absent keeps its current value. {@link #poll} is called once a second by one thread: when the file's
 * modification time or size changed it is read again and applied; a file that does not parse is reported and
 * changes nothing.
 */
final class RateFile
{
    /** What a file sets: a rate, or -1 for a key it does not name. */
    record Rates(long maxRate, long maxTotalRate)
    {
    }

    private final Path file;
    private final DonorService donor;
    private final PrintWriter err;
    private long seenModified = Long.MIN_VALUE;
    private long seenSize = -1;

    RateFile(final Path file, final DonorService donor, final PrintWriter err)
    {
        this.file = file;
        this.donor = donor;
        this.err = err;
    }

    /**
     * Parse the text of a rate file.
     *
     * @throws IllegalArgumentException naming the line that is not {@code key=RATE} with a known key.
     */
    static Rates parse(final String text)
    {
        long maxRate = -1;
        long maxTotalRate = -1;
        int lineNumber = 0;
        for (final String raw : text.split("\n", -1))
        {
            lineNumber++;
            final int hash = raw.indexOf('#');
            final String line = (hash >= 0 ? raw.substring(0, hash) : raw).trim();
            if (line.isEmpty())
            {
                continue;
            }
            final int eq = line.indexOf('=');
            final String key = eq < 0 ? line : line.substring(0, eq).trim().toLowerCase(Locale.ROOT);
            if (eq < 0 || !(key.equals("max-rate") || key.equals("max-total-rate")))
            {
                throw new IllegalArgumentException("line " + lineNumber + " is not max-rate=RATE or max-total-rate=RATE");
            }
            final long rate;
            try
            {
                rate = Units.parseRate(line.substring(eq + 1));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalArgumentException("line " + lineNumber + ": " + ex.getMessage(), ex);
            }
            if (key.equals("max-rate"))
            {
                maxRate = rate;
            }
            else
            {
                maxTotalRate = rate;
            }
        }
        return new Rates(maxRate, maxTotalRate);
    }

    /**
     * Re-read the file if it changed and apply it.
     *
     * @return true if new rates were applied.
     */
    boolean poll()
    {
        final String text;
        try
        {
            final BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            final long modified = a.lastModifiedTime().toMillis();
            if (modified == seenModified && a.size() == seenSize)
            {
                return false;
            }
            seenModified = modified;
            seenSize = a.size();
            text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        }
        catch (final NoSuchFileException ex)
        {
            if (seenSize != -2)
            {
                report("rate file " + file + " does not exist: rates unchanged");
                seenSize = -2;
                seenModified = Long.MIN_VALUE;
            }
            return false;
        }
        catch (final IOException ex)
        {
            report("cannot read rate file " + file + ": " + ex.getMessage() + ": rates unchanged");
            return false;
        }
        final Rates r;
        try
        {
            r = parse(text);
        }
        catch (final IllegalArgumentException ex)
        {
            report("rate file " + file + ": " + ex.getMessage() + ": rates unchanged");
            return false;
        }
        if (r.maxRate() >= 0)
        {
            donor.setMaxRate(r.maxRate());
        }
        if (r.maxTotalRate() >= 0)
        {
            donor.setMaxTotalRate(r.maxTotalRate());
        }
        report("rates from " + file + ": max-rate " + describe(donor.maxRate()) + " per clone, max-total-rate " +
            describe(donor.maxTotalRate()));
        return true;
    }

    private static String describe(final long rate)
    {
        return rate == 0 ? "unlimited" : Units.rate(rate, 1);
    }

    private void report(final String message)
    {
        synchronized (err)
        {
            err.println("ferry donor: " + message);
            err.flush();
        }
    }
}
