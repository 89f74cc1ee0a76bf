package dev.ferry.engine.tools;

import dev.ferry.engine.cli.Cleaner;
import dev.ferry.engine.cli.HostPort;
import dev.ferry.engine.cli.Units;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry demo}: generate a dataset in a temporary directory, clone it, verify the copy, print the throughput,
 * clean up.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Generate a mixed dataset, start a donor on a loopback port, clone it with several threads, verify " +
        "the copy byte for byte and print the throughput.")
public final class DemoCommand implements Callable<Integer>
{
    @Option(names = "--threads", defaultValue = "3", description = "clone threads (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--large-files", defaultValue = "4", description = "large files (default: ${DEFAULT-VALUE})")
    int largeFiles;

    @Option(names = "--large-size", defaultValue = "64M", description = "size of each large file (default: ${DEFAULT-VALUE})")
    String largeSize;

    @Option(names = "--small-files", defaultValue = "2000", description = "files of 1-64 KiB (default: ${DEFAULT-VALUE})")
    int smallFiles;

    @Option(names = "--keep", description = "keep the generated directories")
    boolean keep;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException
    {
        final PrintWriter out = spec.commandLine().getOut();
        final Path work = Files.createTempDirectory("ferry-demo-");
        try
        {
            final Path src = work.resolve("donor");
            final Path dst = work.resolve("recipient");
            final DatasetGenerator gen = new DatasetGenerator(42);
            gen.mixed(src, largeFiles, Units.parseSize(largeSize), smallFiles);
            out.println("generated " + gen.files() + " files, " + Units.bytes(gen.bytes()) + " in " + src);
            final CloneResult r;
            final CloneClient client;
            try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
                new DonorService.Options()).start())
            {
                out.println("donor listening on " + HostPort.format(donor.address()) + "; cloning with " + threads +
                    " threads");
                out.flush();
                client = new CloneClient(donor.address(), dst, new CloneClient.Options().threads(threads));
                r = client.run();
            }
            out.println("cloned " + r.entries() + " entries, " + Units.bytes(r.dataBytes()) + " in " +
                String.format(java.util.Locale.ROOT, "%.2f s", r.seconds()) + ": " + Units.rate(r.dataBytes(), r.seconds()) +
                " over loopback (" + Units.bytes(r.networkBytes()) + " on the wire, CRC32C on every block, fsync at the end)");
            final dev.ferry.engine.CloneProgress p = client.progress();
            out.println(String.format(java.util.Locale.ROOT, "stages: snapshot+connect %.2f s, metadata %.2f s, " +
                "file copy %.2f s (%s), file sync %.2f s (fsync of everything written)",
                p.secondsUntil(dev.ferry.engine.CloneStage.METADATA), p.stageSeconds(dev.ferry.engine.CloneStage.METADATA),
                p.stageSeconds(dev.ferry.engine.CloneStage.FILE_COPY),
                Units.rate(r.dataBytes(), p.stageSeconds(dev.ferry.engine.CloneStage.FILE_COPY)),
                p.stageSeconds(dev.ferry.engine.CloneStage.FILE_SYNC)));
            final List<String> diffs = TreeComparator.compare(src, dst);
            if (!diffs.isEmpty())
            {
                throw new FerryException(ErrorCode.INTERNAL, "the copy differs from the source: " + diffs);
            }
            out.println("verified: every file, byte, mode, mtime and symlink matches");
            return 0;
        }
        finally
        {
            if (keep)
            {
                out.println("kept " + work);
            }
            else
            {
                Files.walkFileTree(work, new Cleaner());
            }
        }
    }
}
