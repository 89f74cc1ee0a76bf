package dev.ferry.engine.tools;

import dev.ferry.engine.cli.FerryMain;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry bench --restarts N}: cut points spread over the stream, and one small clone through the
 * {@link CuttingProxy} that must be cut exactly N times and still be identical.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BenchRestartsTest
{
    private static final Pattern IDENTICAL = Pattern.compile("identical after (\\d+) cuts and (\\d+) restarts");
    private static final Pattern DONOR_RATIO = Pattern.compile("donor handed (\\d+) bytes to its sockets = ([0-9.]+) x");
    private static final Pattern PROXY_RATIO = Pattern.compile("(\\d+) bytes crossed the proxy to the client = ([0-9.]+) x");

    @TempDir
    Path dir;

    @Test
    void cutPointsAscendWithinTheStream()
    {
        final long bytes = 1L << 30;
        final long[] cuts = BenchCommand.cutPoints(new Random(7), 10, bytes);
        assertEquals(10, cuts.length);
        long previous = 0;
        for (final long cut : cuts)
        {
            assertTrue(cut > previous, "ascending: " + previous + ", " + cut);
            assertTrue(cut - previous <= 2 * bytes / 11 + 1, "gap " + (cut - previous));
            previous = cut;
        }
        assertArrayEquals(cuts, BenchCommand.cutPoints(new Random(7), 10, bytes), "same seed, same cuts");
    }

    @Test
    void cloneCutThreeTimesIsIdenticalAndReportsTheBytesSentAgain() throws Exception
    {
        final Path src = dir.resolve("src");
        final DatasetGenerator generator = new DatasetGenerator(11);
        generator.mixed(src, 3, 12L * 1024 * 1024, 40);
        final long bytes = generator.bytes();
        final long[] cuts = BenchCommand.cutPoints(new Random(42), 3, bytes);
        assertTrue(cuts[2] < bytes, "with seed 42 every cut falls inside the first pass over the data");

        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int exit = FerryMain.run(new String[] { "bench", "--restarts", "3", "--seed", "42", "--work",
            dir.resolve("work").toString(), src.toString() }, new PrintWriter(out), new PrintWriter(err));
        assertEquals(0, exit, out + "\n" + err);

        final Matcher identical = IDENTICAL.matcher(out.toString());
        assertTrue(identical.find(), out.toString());
        assertEquals(3, Integer.parseInt(identical.group(1)), "every cut fired: " + out);
        assertTrue(Integer.parseInt(identical.group(2)) >= 1, out.toString());
        final Matcher donor = DONOR_RATIO.matcher(out.toString());
        assertTrue(donor.find(), out.toString());
        assertTrue(Long.parseLong(donor.group(1)) >= bytes, "the donor sent at least the dataset: " + out);
        final Matcher proxy = PROXY_RATIO.matcher(out.toString());
        assertTrue(proxy.find(), out.toString());
        assertTrue(Long.parseLong(proxy.group(1)) > bytes, "headers and re-sent blocks cross the proxy too: " + out);
        try (var left = Files.list(dir.resolve("work")))
        {
            assertFalse(left.findAny().isPresent(), "the copy is deleted afterwards");
        }
    }
}
