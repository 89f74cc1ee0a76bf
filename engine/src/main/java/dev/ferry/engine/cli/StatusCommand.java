package dev.ferry.engine.cli;

import dev.ferry.engine.recipient.StatusFile;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.PeerText;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ferry status T}: what the clone running (or interrupted) in T is doing, read from {@code T/.ferry/status}
 * (like the clone plugin's {@code clone_status} and {@code clone_progress} tables).
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show the state of the clone running (or interrupted) in DIR: stage, bytes, rate, ETA, threads, " +
        "restarts, donor, snapshot, last error.")
final class StatusCommand implements Callable<Integer>
{
    @Parameters(index = "0", paramLabel = "DIR", description = "the clone's target directory")
    Path target;

    @Option(names = "--json", description = "one JSON object on stdout")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws java.io.IOException
    {
        final Map<String, String> v = StatusFile.read(target);
        if (v == null)
        {
            throw new FerryException(ErrorCode.IO_ERROR, target + " holds no clone status, no .ferry/status: no " +
                "clone runs there, or it finished", "", null);
        }
        final PrintWriter out = spec.commandLine().getOut();
        if (json)
        {
            final StringBuilder b = new StringBuilder("{");
            for (final Map.Entry<String, String> e : v.entrySet())
            {
                if (b.length() > 1)
                {
                    b.append(',');
                }
                b.append(ProgressPrinter.quote(e.getKey())).append(':');
                final String value = e.getValue();
                b.append(value.matches("-?[0-9]+(\\.[0-9]+)?") && !e.getKey().equals("snapshot") ? value :
                    ProgressPrinter.quote(value));
            }
            out.println(b.append('}'));
        }
        else
        {
            for (final Map.Entry<String, String> e : v.entrySet())
            {
                out.printf("%-24s %s%n", e.getKey(), PeerText.escape(show(e.getKey(), e.getValue())));
            }
        }
        out.flush();
        return 0;
    }

    private static String show(final String key, final String value)
    {
        if (value.isEmpty())
        {
            return "-";
        }
        try
        {
            switch (key)
            {
                case "data_bytes":
                case "estimate_bytes":
                case "network_bytes":
                    return Units.bytes(Long.parseLong(value)) + " (" + value + ")";
                case "data_speed":
                    return Units.rate(Long.parseLong(value), 1.0);
                case "eta_seconds":
                case "reconnect_seconds_left":
                case "seconds":
                    return value + " s";
                default:
                    return value;
            }
        }
        catch (final NumberFormatException ex)
        {
            return value;
        }
    }
}
