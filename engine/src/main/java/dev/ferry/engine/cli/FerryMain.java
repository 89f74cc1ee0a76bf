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
    description = "Clone a directory tree from a donor to a recipient, fast and safely.")
public final class FerryMain implements Runnable
{
    /**
     * The subcommands, in the order help lists them. Only the one a command line names is built: picocli reads every
     * subcommand's options by reflection when it is added, and building all of them took about 60 ms more than
     * building {@code clone} alone in a cold JVM (measured here, without the class-data archive), on the critical
     * path of every command.
     */
    private static final Class<?>[] SUBCOMMANDS = { DemoCommand.class, DonorCommand.class, CloneCommand.class,
        StatusCommand.class, LocalCommand.class, BenchCommand.class, VerifyCommand.class };

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
        addSubcommands(cl, args); // before the settings below, which apply to the subcommands present
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
     * Adds the subcommand the first word of {@code args} names, or, when it names none (help, a top-level option,
     * a typo picocli should answer with the list), all of them and {@code help}.
     */
    static void addSubcommands(final CommandLine cl, final String[] args)
    {
        String word = null;
        for (final String a : args)
        {
            if (!a.startsWith("-")) // the top level has no option that takes a value
            {
                word = a;
                break;
            }
        }
        for (final Class<?> c : SUBCOMMANDS)
        {
            if (c.getAnnotation(Command.class).name().equals(word))
            {
                cl.addSubcommand(new CommandLine(c));
                return;
            }
        }
        for (final Class<?> c : SUBCOMMANDS)
        {
            cl.addSubcommand(new CommandLine(c));
        }
        cl.addSubcommand(new CommandLine(CommandLine.HelpCommand.class));
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
