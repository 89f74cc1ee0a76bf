package dev.ferry.engine.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.local.LocalClone;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ferry local SRC DST}: clone a tree in-process through the storage SPI.
 */
@Command(name = "local", mixinStandardHelpOptions = true,
    description = "Clone SRC into DST (absent or empty) in this process, through the same storage engine as a remote clone.")
final class LocalCommand implements Callable<Integer>
{
    @Parameters(index = "0", paramLabel = "SRC", description = "directory to copy")
    Path source;

    @Parameters(index = "1", paramLabel = "DST", description = "target directory, absent or empty")
    Path target;

    @Option(names = "--threads", defaultValue = "2", description = "parallel copy tasks (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--checksum", description = "compute and verify CRC32C of every block (off by default for local clone)")
    boolean checksum;

    @Option(names = "--no-sync", description = "skip forcing files and directories to disk at the end")
    boolean noSync;

    @Option(names = "--chunk-size", defaultValue = "32M", description = "chunk size (default: ${DEFAULT-VALUE})")
    String chunkSize;

    @Option(names = "--block-size", defaultValue = "1M", description = "block size (default: ${DEFAULT-VALUE})")
    String blockSize;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call()
    {
        final CloneSettings settings = new CloneSettings()
            .chunkSize(Units.parseSize(chunkSize))
            .blockSize((int)Units.parseSize(blockSize))
            .checksum(checksum)
            .sync(!noSync)
            .conclude();
        final LocalClone clone = new LocalClone(source, target, settings, threads);
        clone.run();
        final CloneProgress p = clone.progress();
        spec.commandLine().getOut().println(summary(p));
        ProgressPrinter.warnings(spec.commandLine().getErr(), clone.warnings());
        return 0;
    }

    static String summary(final CloneProgress p)
    {
        return "cloned " + p.entriesTotal() + " entries, " + Units.bytes(p.dataBytes()) + " in " +
            String.format(java.util.Locale.ROOT, "%.2f s", p.seconds()) + ": " +
            Units.rate(p.dataBytes(), p.seconds()) + " (" + p.threads() + " threads" +
            (p.holeBytes() > 0 ? ", " + Units.bytes(p.holeBytes()) + " of holes not copied" : "") + ")";
    }
}
