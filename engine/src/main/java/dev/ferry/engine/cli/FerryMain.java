package dev.ferry.engine.cli;

import dev.ferry.engine.FatalErrors;
import dev.ferry.engine.tools.BenchCommand;
import dev.ferry.engine.tools.DemoCommand;

import java.io.PrintWriter;

import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.PeerText;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ferry} command line. {@link #run} returns an exit code and never exits the JVM; only {@link #main} does.
 */
@Command(
    name = "ferry",
    mixinStandardHelpOptions = true,
    versionProvider = FerryMain.Version.class,
    description = "Clone a directory tree from a donor to a recipient, fast and safely.",
    subcommands = { DemoCommand.class, DonorCommand.class, CloneCommand.class, StatusCommand.class, LocalCommand.class, BenchCommand.class, VerifyCommand.class, CommandLine.HelpCommand.class })
public final class FerryMain implements Runnable
{
    /** Exit code of a failed clone or command. */
    public static final int EXIT_FAILURE = 1;
    /** Exit code of a usage error. */
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run()
    {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * Run a command line.
     *
     * @return the exit code.
     */
    public static int run(final String[] args, final PrintWriter out, final PrintWriter err)
    {
        final CommandLine cl = new CommandLine(new FerryMain());
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) ->
        {
            // one line, always the last: whatever a peer put in a message cannot break it or drive the terminal
            err.flush();
            err.println("ferry: error: " + PeerText.escape(ex instanceof FerryException ?
                ((FerryException)ex).describe() : ex.toString()));
            err.flush();
            FatalErrors.reported();
            return EXIT_FAILURE;
        });
        int code;
        try
        {
            code = cl.execute(args);
        }
        catch (final Error ex)
        {
            // picocli hands on only exceptions: an Error out of a command ends it here, reported the same way
            final FerryException failure = FatalErrors.fatal(ex, "ferry failed");
            err.flush();
            err.println("ferry: error: " + PeerText.escape(failure.describe()));
            err.flush();
            FatalErrors.reported();
            code = EXIT_FAILURE;
        }
        out.flush();
        err.flush();
        return code;
    }

    public static void main(final String[] args)
    {
        // out of heap, a command must end within seconds with a message, never hang (issue 10)
        FatalErrors.armHalt(EXIT_FAILURE);
        dev.ferry.engine.fs.NativeFs.warmInBackground();
        final int code = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
        System.exit(code);
    }

    /**
     * Reports the build's version.
     */
    static final class Version implements CommandLine.IVersionProvider
    {
        @Override
        public String[] getVersion()
        {
            final String v = FerryMain.class.getPackage().getImplementationVersion();
            return new String[] { "ferry " + (v == null ? "dev" : v) + " (protocol " +
                dev.ferry.core.protocol.Wire.PROTOCOL_MIN + ".." + dev.ferry.core.protocol.Wire.PROTOCOL_MAX + ")" };
        }
    }
}
