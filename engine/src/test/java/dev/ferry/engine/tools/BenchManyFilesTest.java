package dev.ferry.engine.tools;

import dev.ferry.engine.cli.FerryMain;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry bench --many-files N}: the set is generated once (N files of 0-96 bytes in N/1000 directories) and
 * reused, every method of the durable race runs in each round, and the destinations are gone afterwards.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BenchManyFilesTest
{
    private static final Pattern RUN = Pattern.compile("run (\\d) (ferry --no-sync|ferry|tar\\|nc;sync|tar\\|nc)\\s+([0-9.]+) s");

    @TempDir
    Path dir;

    @Test
    void theSetIsMadeOnceAndEveryMethodRunsEachRound() throws Exception
    {
        final Path work = dir.resolve("work");
        final String first = bench(work);
        assertTrue(first.contains("generating 2500 files of 0-96 bytes"), first);
        final Path set = work.resolve("many-files-2500");
        final List<Path> files;
        try (Stream<Path> s = Files.walk(set))
        {
            files = s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).collect(Collectors.toList());
        }
        assertEquals(2500, files.size());
        for (final Path f : files)
        {
            assertTrue(Files.size(f) <= 96, f.toString());
        }
        try (Stream<Path> s = Files.list(set))
        {
            assertEquals(2, s.count(), "2,500 files in 2 directories");
        }
        final boolean peer = first.contains("tar|nc;sync");
        final Matcher m = RUN.matcher(first);
        int runs = 0;
        while (m.find())
        {
            runs++;
        }
        assertEquals(peer ? 8 : 4, runs, "two rounds of every method: " + first);
        assertTrue(Pattern.compile("ferry --no-sync\\s+median").matcher(first).find(), first);
        if (peer)
        {
            assertTrue(first.contains("ratio ferry / tar|nc;sync (durable) = "), first);
        }

        final String second = bench(work);
        assertFalse(second.contains("generating"), "the set is reused: " + second);
        try (Stream<Path> s = Files.list(work))
        {
            assertEquals(List.of("many-files-2500", "many-files-2500.complete"),
                s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList()),
                "only the set is left: the destinations are deleted at the end");
        }
    }

    private static String bench(final Path work)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int exit = FerryMain.run(new String[] { "bench", "--many-files", "2500", "--runs", "2", "--work",
            work.toString() }, new PrintWriter(out), new PrintWriter(err));
        assertEquals(0, exit, out + "\n" + err);
        return out.toString();
    }
}
