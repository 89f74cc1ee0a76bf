package dev.ferry.engine.cli;

import dev.ferry.engine.donor.DonorService;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import dev.ferry.core.config.CloneSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry donor}: serve a directory until interrupted.
 */
@Command(name = "donor", mixinStandardHelpOptions = true,
    description = "Serve DIR to Ferry clients over TCP until interrupted (Ctrl-C).")
final class DonorCommand implements Callable<Integer>
{
    @Option(names = "--root", required = true, paramLabel = "DIR", description = "directory to serve")
    Path root;

    @Option(names = "--listen", defaultValue = "127.0.0.1:0", paramLabel = "HOST:PORT",
        description = "address to listen on; port 0 picks a free one (default: ${DEFAULT-VALUE})")
    String listen;

    @Option(names = "--max-clones", defaultValue = "8", description = "clones served at once (default: ${DEFAULT-VALUE})")
    int maxClones;

    @Option(names = "--max-queued", defaultValue = "" + dev.ferry.engine.donor.DonorService.Options.MAX_QUEUED_DEFAULT,
        description = "clones that wait their turn while --max-clones are served; more get TOO_MANY_CLONES " +
        "(default: ${DEFAULT-VALUE}; 0: no queue)")
    int maxQueued;

    @Option(names = "--loops", defaultValue = "2", description = "network event-loop threads (default: ${DEFAULT-VALUE})")
    int loops;

    @Option(names = "--restart-window", defaultValue = "300", paramLabel = "SECONDS",
        description = "how long a snapshot is kept for a client to reconnect after a network failure (default: ${DEFAULT-VALUE})")
    long restartWindowSeconds;

    @Option(names = "--no-checksum", description = "send blocks without CRC32C (saves donor CPU)")
    boolean noChecksum;

    @Option(names = "--block-size", defaultValue = "1M", description = "block size (default: ${DEFAULT-VALUE})")
    String blockSize;

    @Option(names = "--chunk-size", defaultValue = "32M", description = "chunk size (default: ${DEFAULT-VALUE})")
    String chunkSize;

    @Option(names = "--secret-file", paramLabel = "FILE",
        description = "require clients to prove knowledge of the secret in FILE (HMAC challenge-response; the secret never crosses the wire)")
    Path secretFile;

    @Option(names = "--quiet", description = "do not report refused clients and failed clones on stderr")
    boolean quiet;

    @Option(names = "--max-rate", defaultValue = "0", paramLabel = "RATE",
        description = "send each clone at most RATE bytes per second, all its connections together (30M = 30 MB/s; " +
        "default 0: no limit)")
    String maxRate;

    @Option(names = "--max-total-rate", defaultValue = "0", paramLabel = "RATE",
        description = "send at most RATE bytes per second, every clone together (default 0: no limit)")
    String maxTotalRate;

    @Option(names = "--rate-file", paramLabel = "FILE",
        description = "read max-rate=RATE and max-total-rate=RATE lines from FILE at start and whenever it changes " +
        "(checked once a second): change the limits without restarting the donor")
    Path rateFile;

    @CommandLine.Mixin
    TlsOptions tls = new TlsOptions();

    @Option(names = "--freeze-cmd", paramLabel = "CMD", description = "a live clone's last pass is taken while CMD " +
        "holds the dataset still (run with /bin/sh -c; FERRY_ROOT, FERRY_SNAPSHOT, FERRY_HOOK, FERRY_CLIENT in its " +
        "environment); a non-zero exit fails the clone with its stderr")
    String freezeCmd;

    @Option(names = "--thaw-cmd", paramLabel = "CMD", description = "lets the dataset go on after --freeze-cmd; runs " +
        "once after every freeze that succeeded, even on errors and cuts")
    String thawCmd;

    @Option(names = "--freeze-timeout", defaultValue = "30", paramLabel = "SECONDS",
        description = "longest --freeze-cmd may run (default: ${DEFAULT-VALUE})")
    long freezeTimeoutSeconds;

    @Option(names = "--drain", defaultValue = "0", paramLabel = "S",
        description = "on SIGTERM, give running clones up to S seconds to finish before the rest are told " +
        "DONOR_SHUTDOWN (default: ${DEFAULT-VALUE})")
    long drainSeconds;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private long rate(final String option, final String value)
    {
        try
        {
            return Units.parseRate(value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), option + ": " + ex.getMessage());
        }
    }

    @Override
    public Integer call() throws InterruptedException
    {
        final CloneSettings settings = new CloneSettings().checksum(!noChecksum)
            .blockSize((int)Units.parseSize(blockSize)).chunkSize(Units.parseSize(chunkSize));
        final java.io.PrintWriter err = spec.commandLine().getErr();
        final dev.ferry.transport.TransportSettings transport = new dev.ferry.transport.TransportSettings();
        final boolean tlsOn = tls.applyDonor(transport, err);
        final DonorService.Options options = new DonorService.Options().transport(transport)
            .secret(secretFile == null ? null : dev.ferry.engine.SharedSecret.fromFile(secretFile))
            .maxRate(rate("--max-rate", maxRate)).maxTotalRate(rate("--max-total-rate", maxTotalRate))
            .settings(settings).maxClones(maxClones).maxQueued(maxQueued).loops(loops).restartWindowMs(restartWindowSeconds * 1000)
            .freezeCmd(freezeCmd).thawCmd(thawCmd).freezeTimeoutMs(freezeTimeoutSeconds * 1000)
            .log(ex ->
            {
                if (!quiet)
                {
                    synchronized (err)
                    {
                        err.println("ferry donor: " + ex.getMessage());
                        err.flush();
                    }
                }
            });
        final CountDownLatch stop = new CountDownLatch(1);
        final CountDownLatch closed = new CountDownLatch(1);
        options.logger(new LineLogger("ferry donor: ", err, quiet));
        final DonorService donor = new DonorService(root, HostPort.parse(listen), options).start();
        try
        {
            // SIGTERM / Ctrl-C: tell the clients (DONOR_SHUTDOWN) after the drain time, and let the JVM exit only then
            final Thread hook = new Thread(() ->
            {
                stop.countDown();
                try
                {
                    closed.await(drainSeconds + 5, java.util.concurrent.TimeUnit.SECONDS);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            }, "ferry-donor-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            spec.commandLine().getOut().println("ferry donor: serving " + root.toAbsolutePath() + " on " +
                HostPort.format(donor.address()));
            spec.commandLine().getOut().flush();
            if (tlsOn)
            {
                err.println("ferry donor: " + transport.tls().description());
                err.flush();
            }
            final java.util.concurrent.ScheduledExecutorService poller = rateFile == null ? null :
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r ->
                {
                    final Thread t = new Thread(r, "ferry-donor-rate-file");
                    t.setDaemon(true);
                    return t;
                });
            if (poller != null)
            {
                final RateFile rates = new RateFile(rateFile, donor, err);
                poller.scheduleWithFixedDelay(rates::poll, 0, 1, java.util.concurrent.TimeUnit.SECONDS);
            }
            try
            {
                stop.await();
            }
            finally
            {
                if (poller != null)
                {
                    poller.shutdownNow();
                }
            }
            if (!quiet)
            {
                err.println("ferry donor: shutting down" + (drainSeconds > 0 ? " (running clones get up to " +
                    drainSeconds + " s to finish)" : "") + "; clients are told DONOR_SHUTDOWN");
                err.flush();
            }
        }
        finally
        {
            donor.close(java.time.Duration.ofSeconds(drainSeconds));
            closed.countDown();
        }
        return 0;
    }
}
