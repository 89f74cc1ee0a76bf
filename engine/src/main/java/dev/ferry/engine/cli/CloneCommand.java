package dev.ferry.engine.cli;

import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry clone}: clone a donor's tree into a local directory.
 */
@Command(name = "clone", mixinStandardHelpOptions = true,
    description = "Clone the tree a donor serves into DIR (absent or empty). Exits 0 only when the copy is complete and synced.")
final class CloneCommand implements Callable<Integer>
{
    @Option(names = "--from", required = true, paramLabel = "HOST:PORT", description = "the donor")
    String from;

    @Option(names = "--to", required = true, paramLabel = "DIR", description = "target directory, absent or empty")
    Path to;

    @Option(names = "--threads", description = "connections to the donor, fixed (default: autotune from 2 up to " +
        "--max-threads, doubling them while a doubling raises the throughput by at least half)")
    Integer threads;

    @Option(names = "--max-threads", defaultValue = "" + CloneClient.Options.MAX_THREADS_DEFAULT, description =
        "without --threads: the most connections autotune may open (default: ${DEFAULT-VALUE}, at most 128)")
    int maxThreads;

    @Option(names = "--apply-threads", defaultValue = "2", description = "threads writing to disk (default: ${DEFAULT-VALUE})")
    int applyThreads;

    @Option(names = "--progress", defaultValue = "auto", paramLabel = "auto|tty|json|none",
        description = "progress on stderr when it is a terminal (auto), always (tty), as JSON lines on stdout (json), or never")
    ProgressPrinter.Mode progress;

    @Option(names = "--no-wait", description = "when the donor announces that it shuts down, stop at once (exit 1, " +
        "resumable) instead of waiting for it to come back within the restart window")
    boolean noWait;

    @Option(names = "--no-sync", description = "skip forcing files and directories to disk (at the end and at journal " +
        "checkpoints: a resume is then safe after a process crash, not after a power loss)")
    boolean noSync;

    @Option(names = "--resume", description = "continue an interrupted clone in DIR: against the same snapshot if the " +
        "donor still holds it, else against a new one, keeping files that are complete and unchanged")
    boolean resume;

    @Option(names = "--secret-file", paramLabel = "FILE",
        description = "authenticate with the shared secret in FILE, and require the donor to prove it knows it too")
    Path secretFile;

    @Option(names = "--allow-donor", paramLabel = "HOST:PORT", split = ",",
        description = "clone only from these donors (repeat or comma-separate); any other is refused before connecting")
    java.util.List<String> allowDonors;

    @Option(names = {"--checksum", "--resume-checksum"}, description = "with --update or --resume against a new " +
        "snapshot: compare every file piece by piece (XXH3-128), even when its size and mtime match (both sides " +
        "read everything)")
    boolean resumeChecksum;

    @Option(names = "--strict", description = "fail with FILE_CHANGED as soon as a donor file changes during the " +
        "clone, instead of copying it again in a change pass")
    boolean strict;

    @Option(names = "--max-rounds", defaultValue = "8", paramLabel = "N", description = "a live clone's passes " +
        "before its last one (default: ${DEFAULT-VALUE})")
    int maxRounds;

    @Option(names = "--converge", defaultValue = "64M", paramLabel = "SIZE", description = "with a donor freeze " +
        "hook: freeze once a change pass moved at most SIZE (default: ${DEFAULT-VALUE})")
    String converge;

    @Option(names = "--no-freeze", description = "converge without the donor's freeze hook (each file consistent, " +
        "not the tree at one instant)")
    boolean noFreeze;

    @Option(names = "--keep-hashes", description = "hash the copy's files as they are written and keep the hashes " +
        "in the copy (.ferry-hashes), so that the first --update does not read the copy to compare it (costs one " +
        "hashing pass over the data; every --update keeps the hashes of what it compared anyway)")
    boolean keepHashes;

    @Option(names = "--coarse-mtimes", description = "with --update, on a copy whose file system keeps mtimes to the " +
        "second (or two), compare mtimes at that, like rsync's --modify-window: a same-size rewrite within one such " +
        "tick is then missed (--checksum finds it); without it every file of such a copy is compared piece by piece")
    boolean coarseMtimes;

    @Option(names = "--update", description = "bring the directory TO (a finished copy, or any directory: this flag " +
        "says so) up to date with the donor, sending only what changed: new and changed pieces of files, renamed " +
        "files moved, vanished entries removed; an interrupted update continues with --resume")
    boolean update;

    @Option(names = "--no-setuid", description = "strip set-user-ID and set-group-ID bits from every cloned file " +
        "(without it they are kept, with the donor's owner as root); a cautious choice for an untrusted donor")
    boolean noSetuid;

    @Option(names = "--max-restarts", defaultValue = "100",
        description = "reconnections after network failures before giving up (default: ${DEFAULT-VALUE})")
    int maxRestarts;

    @Option(names = "--max-rate", defaultValue = "0", paramLabel = "RATE",
        description = "receive at most RATE bytes per second, all connections together (30M = 30 MB/s, 1G; burst of " +
        "200 ms of the rate; default 0: no limit)")
    String maxRate;

    @Option(names = "--compress", arity = "0..1", paramLabel = "LEVEL",
        fallbackValue = "" + CloneClient.Options.COMPRESS_LEVEL_DEFAULT, description = "ask the donor to compress each " +
        "block with zstd at LEVEL (1-22, default " + CloneClient.Options.COMPRESS_LEVEL_DEFAULT + ") where it shrinks: " +
        "for slow links; it costs the donor CPU, so leave it off on loopback and LANs (the default)")
    Integer compress;

    @CommandLine.Mixin
    TlsOptions tls = new TlsOptions();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private long rate(final String value)
    {
        try
        {
            return Units.parseRate(value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--max-rate: " + ex.getMessage());
        }
    }

    private int compressLevel()
    {
        if (compress == null)
        {
            return 0;
        }
        if (compress < dev.ferry.core.protocol.ExecuteFlags.MIN_LEVEL || compress > dev.ferry.core.protocol.ExecuteFlags.MAX_LEVEL)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "--compress: level " + compress +
                " is outside " + dev.ferry.core.protocol.ExecuteFlags.MIN_LEVEL + ".." +
                dev.ferry.core.protocol.ExecuteFlags.MAX_LEVEL);
        }
        return compress;
    }

    @Override
    public Integer call()
    {
        final PrintWriter out = spec.commandLine().getOut();
        final ProgressPrinter.Mode mode = progress;
        final ProgressPrinter printer = new ProgressPrinter(out, spec.commandLine().getErr(), mode);
        final dev.ferry.transport.TransportSettings transport = new dev.ferry.transport.TransportSettings();
        tls.applyClient(transport, spec.commandLine().getErr());
        final CloneClient.Options options = new CloneClient.Options().transport(transport)
            .threads(threads != null ? threads : Math.min(2, maxThreads)).maxThreads(threads != null ? 0 : maxThreads)
            .applyThreads(applyThreads)
            .settings(new dev.ferry.core.config.CloneSettings().sync(!noSync)).onProgress(printer, 1000)
            .maxRate(rate(maxRate)).compress(compressLevel()).resume(resume).update(update).keepHashes(keepHashes).coarseMtimes(coarseMtimes).strict(strict).maxRounds(maxRounds).noFreeze(noFreeze)
            .convergeBytes(Units.parseSize(converge)).resumeChecksum(resumeChecksum).maxRestarts(maxRestarts).allowDonors(allowDonors).noSetuid(noSetuid).noWait(noWait)
            .secret(secretFile == null ? null : dev.ferry.engine.SharedSecret.fromFile(secretFile));
        final CloneResult r;
        final CloneClient client = new CloneClient(HostPort.parse(from), to, options);
        final dev.ferry.engine.CloneProgress p;
        try
        {
            r = client.run();
            p = client.progress();
        }
        finally
        {
            printer.end();
        }
        if (mode != ProgressPrinter.Mode.JSON)
        {
            out.println("cloned " + r.entries() + " entries, " + Units.bytes(r.dataBytes()) + " in " +
                String.format(Locale.ROOT, "%.2f s", r.seconds()) + ": " + Units.rate(r.dataBytes(), r.seconds()) +
                " (" + p.threads() + (threads != null ? " threads, " : " threads, autotuned, ") + Units.bytes(r.networkBytes()) + " over the network" +
                (r.holeBytes() > 0 ? ", " + Units.bytes(r.holeBytes()) + " of holes not sent" : "") +
                (r.restarts() > 0 ? ", " + r.restarts() + " restarts, " +
                Units.bytes(Math.max(0, r.networkBytes() - r.dataBytes())) + " on the wire beyond the data (framing and " +
                "what was in flight at each cut)" : "") +
                (p.compressedDataBytes() > 0 ? ", " + compression(p, r.dataBytes(), r.networkBytes()) : "") +
                (p.corruptBlocks() > 0 ? ", " + p.corruptBlocks() +
                " corrupt blocks caught by CRC32C and sent again" : "") +
                (p.keptFiles() > 0 ? ", " + p.keptFiles() + " files (" +
                Units.bytes(p.keptBytes()) + ") kept " + (update ? "unchanged" : "from the interrupted clone") : "") +
                (r.diff().comparedFiles() > 0 ? ", " + r.diff().comparedFiles() + " files compared piece by piece (" +
                Units.bytes(r.diff().hashedBytes()) + " hashed, " + Units.bytes(r.diff().unchangedBytes()) +
                " unchanged)" : "") +
                (r.diff().movedFiles() > 0 ? ", " + r.diff().movedFiles() + " renamed files moved" : "") +
                (r.live().passes() > 1 ? ", " + r.live().passes() + " passes" : "") +
                (r.live().frozen() ? String.format(Locale.ROOT, ", dataset frozen %.0f ms for the last %s",
                r.live().frozenNanos() / 1e6, Units.bytes(r.live().frozenBytes())) : "") + ")");
            if (r.live().unstableFiles() > 0)
            {
                spec.commandLine().getErr().println("ferry: warning: " + r.live().unstableFiles() + " files changed " +
                    "while the last pass read them: the copy is consistent per file except for those (raise " +
                    "--max-rounds, or give the donor a --freeze-cmd)");
            }
        }
        ProgressPrinter.warnings(spec.commandLine().getErr(), r.warnings());
        return 0;
    }

    /**
     * What compression saved, for the summary: the compressed blocks' data against their bodies, and the whole wire
     * against the whole data.
     */
    static String compression(final dev.ferry.engine.CloneProgress p, final long data, final long network)
    {
        return "zstd: " + Units.bytes(p.compressedDataBytes()) + " of data in " + Units.bytes(p.compressedWireBytes()) +
            String.format(Locale.ROOT, " (%.0f%%); on the wire %.0f%% of the data", 100.0 * p.compressedWireBytes() /
            p.compressedDataBytes(), data > 0 ? 100.0 * network / data : 0);
    }
}
