package dev.ferry.engine.cli;

import dev.ferry.engine.SharedSecret;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.verify.VerifyClient;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import dev.ferry.core.protocol.PeerText;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry verify}: compare a finished copy against what the donor serves now.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
    description = "Compare DIR with the donor's current manifest and block checksums (no file bytes cross the wire); " +
        "print every difference. Exits 0 when identical, 1 otherwise.")
final class VerifyCommand implements Callable<Integer>
{
    @Option(names = "--from", required = true, paramLabel = "HOST:PORT", description = "the donor")
    String from;

    @Option(names = "--to", required = true, paramLabel = "DIR", description = "the copy to check")
    Path to;

    @Option(names = "--secret-file", paramLabel = "FILE", description = "shared secret, if the donor requires one")
    Path secretFile;

    @CommandLine.Mixin
    TlsOptions tls = new TlsOptions();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call()
    {
        final PrintWriter out = spec.commandLine().getOut();
        final dev.ferry.transport.TransportSettings transport = new dev.ferry.transport.TransportSettings();
        tls.applyClient(transport, spec.commandLine().getErr());
        final VerifyClient v = new VerifyClient(HostPort.parse(from), to, new CloneClient.Options().transport(transport)
            .secret(secretFile == null ? null : SharedSecret.fromFile(secretFile)));
        final List<String> diffs = v.run();
        for (final String d : diffs)
        {
            out.println(PeerText.escape(d)); // names come from the donor's manifest and the disk
        }
        out.println((diffs.isEmpty() ? "identical: " : diffs.size() + " differences; checked ") + v.entriesChecked() +
            " entries and " + v.blocksChecked() + " block checksums" + (v.coarseMtimes() == 0 ? "" : " (" +
            v.coarseMtimes() + " mtimes equal to the donor's to the " + (v.mtimeGranularityAccepted() == 1_000_000_000L ?
            "second" : (v.mtimeGranularityAccepted() / 1_000_000_000L) + " seconds") + ", all the copy's file system " +
            "keeps)"));
        return diffs.isEmpty() ? 0 : FerryMain.EXIT_FAILURE;
    }
}
