package dev.ferry.engine.cli;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line's contract: exit codes (0 success, 1 failure, 2 usage), one line on stderr per failure, a summary
 * on stdout, JSON progress lines, and no System.exit from {@link FerryMain#run}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FerryMainTest
{
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int ferry(final String... args)
    {
        return FerryMain.run(args, new PrintWriter(out), new PrintWriter(err));
    }

    @Test
    void helpListsTheCommands()
    {
        assertEquals(0, ferry("--help"));
        for (final String command : List.of("demo", "donor", "clone", "status", "local", "bench", "verify", "help"))
        {
            assertTrue(out.toString().contains("\n  " + command + " "), command + " missing from: " + out);
        }
    }

    /** Only the subcommand a command line names is built (FerryMain.addSubcommands); the others still answer. */
    @Test
    void eachCommandIsFoundWhenOnlyItIsBuilt()
    {
        for (final String command : List.of("demo", "donor", "clone", "status", "local", "bench", "verify"))
        {
            out.getBuffer().setLength(0);
            assertEquals(0, ferry(command, "--help"), command);
            assertTrue(out.toString().startsWith("Usage: ferry " + command + " "), out.toString());
            out.getBuffer().setLength(0);
            assertEquals(0, ferry("help", command), command);
            assertTrue(out.toString().startsWith("Usage: ferry " + command + " "), out.toString());
        }
        err.getBuffer().setLength(0);
        assertEquals(FerryMain.EXIT_USAGE, ferry("clon"));
        assertTrue(err.toString().contains("Did you mean: ferry clone"), err.toString()); // the list was there to search
        out.getBuffer().setLength(0);
        assertEquals(0, ferry("-V"));
        assertTrue(out.toString().startsWith("ferry "), out.toString());
    }

    @Test
    void usageErrorsExitTwo()
    {
        assertEquals(FerryMain.EXIT_USAGE, ferry("clone", "--to", dir.resolve("x").toString()));
        assertTrue(err.toString().contains("--from"), err.toString());
        assertEquals(FerryMain.EXIT_USAGE, ferry("no-such-command"));
    }

    @Test
    void failureIsOneLineWithAHintAndExitOne() throws Exception
    {
        final int port;
        try (ServerSocket s = new ServerSocket(0))
        {
            port = s.getLocalPort();
        }
        assertEquals(FerryMain.EXIT_FAILURE, ferry("clone", "--from", "127.0.0.1:" + port, "--to",
            dir.resolve("dst").toString(), "--progress", "none"));
        final String[] lines = err.toString().strip().split("\n");
        final String last = lines[lines.length - 1];
        assertTrue(last.startsWith("ferry: error: NETWORK: cannot connect to donor"), err.toString());
        assertTrue(last.contains("ferry donor"), "the hint says what to check: " + last);
        assertTrue(!Files.exists(dir.resolve("dst")), "nothing written");

        // verify writes nothing: its hint must not say --resume
        Files.createDirectories(dir.resolve("copy"));
        assertEquals(FerryMain.EXIT_FAILURE, ferry("verify", "--from", "127.0.0.1:" + port, "--to",
            dir.resolve("copy").toString()));
        final String verifyLast = lastLine(err);
        assertTrue(verifyLast.contains("NETWORK: cannot verify against donor"), err.toString());
        assertTrue(verifyLast.contains("ferry donor") && !verifyLast.contains("--resume"), verifyLast);
    }

    @Test
    void unknownProgressModeIsAUsageError()
    {
        assertEquals(FerryMain.EXIT_USAGE, ferry("clone", "--from", "127.0.0.1:1", "--to", dir.resolve("x").toString(),
            "--progress", "bogus"));
        assertTrue(err.toString().contains("--progress"), err.toString());
        assertTrue(!err.toString().contains("IllegalArgumentException"), err.toString());
        assertEquals(0, ferry("clone", "--help"));
        assertTrue(out.toString().contains("--no-wait"), out.toString());
    }

    private String lastLine(final StringWriter w)
    {
        final String[] lines = w.toString().strip().split("\n");
        return lines[lines.length - 1];
    }

    private static int hints(final String line)
    {
        return line.split("\\(", -1).length - 1;
    }

    @Test
    void jsonProgressEndsWithAFailureRecordAndConnectionRefusedIsNotToldToResume() throws Exception
    {
        final int port;
        try (ServerSocket s = new ServerSocket(0))
        {
            port = s.getLocalPort();
        }
        assertEquals(FerryMain.EXIT_FAILURE, ferry("clone", "--from", "127.0.0.1:" + port, "--to",
            dir.resolve("dst").toString(), "--progress", "json"));
        final String last = lastLine(out);
        assertTrue(last.startsWith("{\"stage\":\"NONE\",\"state\":\"failed\"") &&
            last.contains("\"entries_done\":0,\"entries_total\":0") && last.contains("\"error_code\":\"NETWORK\"") &&
            last.contains("\"message\":\"NETWORK: cannot connect to donor"), last);
        final String said = lastLine(err);
        assertTrue(said.startsWith("ferry: error: NETWORK: cannot connect"), said);
        assertTrue(!said.contains("--resume"), "nothing was written, nothing to resume: " + said);
        assertEquals(1, hints(said.substring(said.indexOf("donor /") + 1).replaceAll("\\(Connection refused\\)", "")),
            "one hint: " + said);
    }

    @Test
    void eachRefusalGetsTheOneHintThatApplies() throws Exception
    {
        final Path full = Files.createDirectories(dir.resolve("full"));
        Files.writeString(full.resolve("a"), "a");
        assertEquals(FerryMain.EXIT_FAILURE, ferry("clone", "--from", "127.0.0.1:1", "--to", full.toString(),
            "--progress", "none"));
        String said = lastLine(err);
        assertEquals("ferry: error: TARGET_NOT_EMPTY: target " + full + " is not empty (choose an empty directory)", said);

        assertEquals(FerryMain.EXIT_FAILURE, ferry("clone", "--from", "127.0.0.1:1", "--to", full.toString(),
            "--progress", "none", "--resume"));
        said = lastLine(err);
        assertEquals("ferry: error: TARGET_NOT_EMPTY: target " + full + " is not empty and holds no interrupted Ferry " +
            "clone (no .ferry/ state) to resume (choose an empty directory)", said);

        final Path file = Files.writeString(dir.resolve("file"), "x");
        assertEquals(FerryMain.EXIT_FAILURE, ferry("clone", "--from", "127.0.0.1:1", "--to", file.toString(),
            "--progress", "none"));
        said = lastLine(err);
        assertTrue(said.contains("TARGET_NOT_EMPTY") && said.contains("is not a directory"), said);
        assertTrue(!said.contains("--resume"), "a file is not told about --resume: " + said);
        assertEquals(1, hints(said), said);

        final Path interrupted = Files.createDirectories(dir.resolve("interrupted").resolve(".ferry"));
        assertEquals(FerryMain.EXIT_FAILURE, ferry("clone", "--from", "127.0.0.1:1", "--to",
            interrupted.getParent().toString(), "--progress", "none"));
        said = lastLine(err);
        assertEquals("ferry: error: TARGET_NOT_EMPTY: target " + interrupted.getParent() + " holds an interrupted clone " +
            "(continue it with --resume, or choose an empty directory)", said);
    }

    @Test
    void statusOfATargetWithoutAClone()
    {
        assertEquals(FerryMain.EXIT_FAILURE, ferry("status", dir.toString()));
        final String said = lastLine(err);
        assertTrue(said.startsWith("ferry: error: IO_ERROR: " + dir + " holds no clone status"), said);
        assertEquals(0, hints(said), said);
    }

    @Test
    void cloneWithJsonProgressAndSummary() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(3).mixed(src, 1, 2_000_000, 50);
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start())
        {
            final Path dst = dir.resolve("dst");
            assertEquals(0, ferry("clone", "--from", "127.0.0.1:" + donor.address().getPort(), "--to", dst.toString(),
                "--progress", "json", "--threads", "3"));
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            final String[] lines = out.toString().strip().split("\n");
            assertTrue(lines.length >= 1, out.toString());
            final String lastJson = lines[lines.length - 1];
            assertTrue(lastJson.startsWith("{\"stage\":\"DONE\""), lastJson);
            assertTrue(lastJson.contains("\"threads\":3"), lastJson);
            assertTrue(lastJson.contains("\"data_bytes\":" + (2_000_000 + sizeOfSmall(src))), lastJson);
            assertTrue(err.toString().contains("clear text"), "the missing TLS is said loudly: " + err);
        }
    }

    @Test
    void localCloneSummary()
    {
        final Path src = dir.resolve("src");
        try
        {
            new DatasetGenerator(4).mixed(src, 1, 100_000, 10);
        }
        catch (final java.io.IOException ex)
        {
            throw new java.io.UncheckedIOException(ex);
        }
        assertEquals(0, ferry("local", src.toString(), dir.resolve("copy").toString(), "--no-sync"));
        assertTrue(out.toString().startsWith("cloned "), out.toString());
        assertEquals(List.of(), TreeComparator.compare(src, dir.resolve("copy")));
        assertEquals(FerryMain.EXIT_FAILURE, ferry("local", src.toString(), dir.resolve("copy").toString()));
        assertTrue(err.toString().contains("TARGET_NOT_EMPTY"), err.toString());
    }

    private static long sizeOfSmall(final Path src) throws java.io.IOException
    {
        try (var s = Files.walk(src.resolve("small")))
        {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
