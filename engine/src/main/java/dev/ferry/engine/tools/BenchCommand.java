package dev.ferry.engine.tools;

import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.cli.Cleaner;
import dev.ferry.engine.cli.Units;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.HdrHistogram.Histogram;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.Stage;
import dev.ferry.transport.TlsConfig;
import dev.ferry.transport.TransportSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ferry bench DIR...}: loopback clone throughput of each dataset directory against {@code tar | nc} (or Ferry
 * over TLS against Ferry in clear text) measured in the same run, alternating, each run into a fresh destination,
 * the source re-read before each run. Reports medians, the ratio, CPU seconds per GB of the in-process clones and
 * chunk latency percentiles.
 * <p>
 * {@code ferry bench --restarts N DIR...} measures instead what restarts cost: one clone of each dataset through a
 * {@link CuttingProxy} that resets connections N times at random points; reports the bytes the donor handed to its
 * sockets and the bytes that crossed the proxy, both against the dataset size, and checks the copy is identical.
 * <p>
 * {@code ferry bench --update DIR...} races an update of a copy against {@code rsync -a --delete} ({@link UpdateBench}).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measure loopback clone throughput of each DIR against tar|nc in the same run (alternating, fresh " +
        "destinations, warm page cache) and print medians, ratios, CPU per GB and chunk latency percentiles; with " +
        "--restarts N, measure the bytes a clone cut N times at random points sends again; with --update, race an " +
        "update of a copy against rsync -a --delete from an rsync daemon.")
public final class BenchCommand implements Callable<Integer>
{
    /** With --restarts: a cut connection is noticed by its reset at once; these bound a cut that left it silent. */
    private static final long RESTART_READ_TIMEOUT_MS = 3_000;
    private static final long RESTART_HEARTBEAT_MS = 300;
    private static final long RESTART_WINDOW_MS = 60_000;

    @Parameters(paramLabel = "DIR", arity = "0..*", description = "dataset directories (e.g. peerbench src-large, " +
        "src-small); at least one unless --many-files is given")
    List<Path> datasets;

    @Option(names = "--runs", defaultValue = "3", description = "runs per method (default: ${DEFAULT-VALUE})")
    int runs;

    @Option(names = "--threads", defaultValue = "2", description = "clone connections (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--apply-threads", defaultValue = "2", description = "apply threads (default: ${DEFAULT-VALUE})")
    int applyThreads;

    @Option(names = "--work", description = "where destinations go (default: a temp dir beside the first dataset)")
    Path work;

    @Option(names = "--sync", description = "let Ferry fsync at the end (peers do not; off by default for a fair race)")
    boolean sync;

    @Option(names = "--no-checksum", description = "donor sends without CRC32C")
    boolean noChecksum;

    @Option(names = "--peer", defaultValue = "tar-nc",
        description = "what to race: tar-nc, tls (Ferry over TLS against Ferry in clear text, with a throw-away " +
            "self-signed certificate made by keytool), or none (default: ${DEFAULT-VALUE})")
    String peer;

    @Option(names = "--verify", description = "compare every Ferry copy byte for byte with the source")
    boolean verify;

    @Option(names = "--warm-up", defaultValue = "0", description = "untimed runs of each method first (the JIT needs " +
        "a few GB of TLS to compile its AES-GCM paths fully; 2 is enough) (default: ${DEFAULT-VALUE})")
    int warmUp;

    @Option(names = "--restarts", defaultValue = "0", description = "instead of racing a peer, clone each DIR once " +
        "through a proxy that cuts the connections this many times at random points, and report the bytes sent " +
        "against the dataset size (default: ${DEFAULT-VALUE})")
    int restarts;

    @Option(names = "--wan", paramLabel = "RATE,RTT,WINDOW", description = "instead of racing a peer, clone each " +
        "DIR once through a WanProxy: a link of RATE bytes/s each way (100M), RTT round trip (50ms), WINDOW " +
        "unacknowledged bytes per connection (1M: about WINDOW/RTT = 20 MB/s per connection); reports the rate " +
        "against the link's; with --runs N given, N clones, and with --compress too, N rounds of a plain and a " +
        "compressed clone, alternating, destinations kept until the end, medians and their ratio")
    String wan;

    @Option(names = "--max-rate", defaultValue = "0", paramLabel = "RATE", description = "with --wan: the client's " +
        "--max-rate (default 0: none)")
    String maxRate;

    @Option(names = "--update", description = "instead of racing tar|nc, race rsync -a --delete from an rsync " +
        "daemon bringing a copy of the DIRs (together) up to date after a set of changes (see UpdateBench); --runs " +
        "runs each, alternating, each from a fresh copy")
    boolean update;

    @Option(names = "--compress", arity = "0..1", paramLabel = "LEVEL", fallbackValue = "" +
        CloneClient.Options.COMPRESS_LEVEL_DEFAULT, description = "with --wan: the client's --compress (zstd level, " +
        "default " + CloneClient.Options.COMPRESS_LEVEL_DEFAULT + " when given without one); the report adds the CPU " +
        "time of the donor's loop threads, where compression runs")
    Integer compress;

    @Option(names = "--seed", defaultValue = "42", description = "seed of the cut points for --restarts and of the " +
        "changes for --update (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--many-files", arity = "0..1", paramLabel = "N", fallbackValue = "1000000", description = "race " +
        "on the many-files set as well (N files of 0-96 bytes in N/1000 directories, default 1,000,000; generated " +
        "under --work once and kept there for later runs), durable against durable: in each round Ferry with its " +
        "default fsync against tar|nc followed by sync, and Ferry --no-sync against bare tar|nc, alternating, every " +
        "destination kept until the end (needs about (1 + 4 x --runs) x N free inodes)")
    Integer manyFiles;

    @Option(names = "--keep", description = "keep the destinations (delete them later yourself: on no-journal ext4, " +
        "creating files right after deleting ~20,000 is many times slower for a few minutes)")
    boolean keep;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        if (runs < 1 || threads < 1 || applyThreads < 1 || warmUp < 0 || restarts < 0)
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--runs, --threads and --apply-threads must be at least 1, --warm-up and --restarts at least 0");
        }
        if ((datasets == null || datasets.isEmpty()) && manyFiles == null)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), "give at least one DIR, or --many-files");
        }
        if (manyFiles != null && (manyFiles < 1 || wan != null || restarts > 0 || update))
        {
            throw new CommandLine.ParameterException(spec.commandLine(),
                "--many-files takes N >= 1 and goes with neither --wan, --restarts nor --update");
        }
        final Path base = work != null ? work : datasets == null || datasets.isEmpty() ?
            Path.of(System.getProperty("java.io.tmpdir"), "ferry-bench-work") :
            datasets.get(0).toAbsolutePath().getParent().resolve("ferry-bench-work");
        Files.createDirectories(base);
        final boolean racePeer = restarts == 0 && wan == null &&
            ("tls".equals(peer) || ("tar-nc".equals(peer) && hasCommand("nc") && hasCommand("tar")));
        if (restarts == 0 && wan == null && "tar-nc".equals(peer) && !racePeer)
        {
            out.println("note: nc not found, racing nobody (apt-get install netcat-openbsd)");
        }
        final List<Path> toDelete = new ArrayList<>();
        try
        {
            if (update)
            {
                new UpdateBench(out, runs, seed).run(datasets, base, toDelete);
                return 0;
            }
            if (manyFiles != null)
            {
                manyFilesRace(out, manyFilesSet(out, base, manyFiles), base, toDelete);
            }
            for (final Path dataset : datasets == null ? List.<Path>of() : datasets)
            {
                if (wan != null)
                {
                    wanRun(out, dataset.toAbsolutePath(), base, toDelete);
                }
                else if (restarts > 0)
                {
                    restartCost(out, dataset.toAbsolutePath(), base, toDelete);
                }
                else
                {
                    bench(out, dataset.toAbsolutePath(), base, racePeer, toDelete);
                }
            }
        }
        finally
        {
            if (keep)
            {
                out.println("kept destinations under " + base);
            }
            else
            {
                for (final Path p : toDelete)
                {
                    deleteTree(p);
                }
            }
        }
        return 0;
    }

    private void bench(final PrintWriter out, final Path src, final Path base, final boolean racePeer,
        final List<Path> toDelete) throws Exception
    {
        final long bytes = treeBytes(src);
        final CloneSettings donorSettings = new CloneSettings().checksum(!noChecksum);
        final double[] ferry = new double[runs];
        final double[] ferryCpu = new double[runs];
        final double[] peerTimes = new double[runs];
        final double[] peerCpu = new double[runs];
        final Histogram latency = new Histogram(3);
        long network = 0;
        final boolean tls = "tls".equals(peer);
        final String peerName = tls ? "tls" : "tar|nc";
        final Path pki = tls ? Files.createTempDirectory(base, "bench-pki") : null;
        final TlsPair pair = tls ? TlsPair.make(pki) : null;
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(donorSettings).maxClones(2)).start();
            DonorService tlsDonor = tls ? new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
                new DonorService.Options().settings(new CloneSettings().checksum(!noChecksum)).maxClones(2)
                    .transport(new TransportSettings().tls(pair.server))).start() : null)
        {
            out.printf(Locale.ROOT, "dataset %s: %s in %d files; %d runs each, alternating%s%n", src, Units.bytes(bytes),
                fileCount(src), runs, warmUp > 0 ? ", after " + warmUp + " untimed runs each" : "");
            out.flush();
            for (int w = 0; w < warmUp; w++)
            {
                final Path dst = freshDestination(base, "warm-", src, w, toDelete);
                ferryClone(donor.address(), dst, null);
                deleteTree(dst);
                toDelete.remove(dst);
                if (racePeer)
                {
                    final Path peerDst = freshDestination(base, "warm-peer-", src, w, toDelete);
                    if (tls)
                    {
                        ferryClone(tlsDonor.address(), peerDst, pair.client);
                    }
                    else
                    {
                        tarNc(src, peerDst);
                    }
                    deleteTree(peerDst);
                    toDelete.remove(peerDst);
                }
            }
            for (int r = 0; r < runs; r++)
            {
                for (int k = 0; k < 2; k++)
                {
                    final boolean ferryTurn = ((r + k) % 2) == 0;
                    if (!ferryTurn && !racePeer)
                    {
                        continue;
                    }
                    settle();
                    warm(src);
                    final Path dst = freshDestination(base, ferryTurn ? "ferry-" : "tarnc-", src, r, toDelete);
                    if (ferryTurn)
                    {
                        final long cpu0 = processCpuNanos();
                        final long t0 = System.nanoTime();
                        final FerryRun run = ferryClone(donor.address(), dst, null);
                        ferry[r] = (System.nanoTime() - t0) / 1e9;
                        ferryCpu[r] = (processCpuNanos() - cpu0) / 1e9;
                        final CloneClient client = run.client;
                        final CloneResult result = run.result;
                        network += result.networkBytes();
                        latency.add(client.chunkLatency());
                        if (result.dataBytes() != bytes)
                        {
                            throw new FerryException(ErrorCode.INTERNAL, "ferry copied " + result.dataBytes() + " of " + bytes);
                        }
                        if (verify && !TreeComparator.compare(src, dst).isEmpty())
                        {
                            throw new FerryException(ErrorCode.INTERNAL, "ferry copy differs: " + TreeComparator.compare(src, dst));
                        }
                        final CloneProgress p = client.progress();
                        out.printf(Locale.ROOT, "  run %d ferry   %6.2f s  %s  %.2f CPU s/GB  (snapshot+connect %.2f s, " +
                            "metadata %.2f s, file copy %.2f s, file sync %.2f s)%n", r, ferry[r],
                            Units.rate(bytes, ferry[r]), perGb(ferryCpu[r], bytes), p.secondsUntil(dev.ferry.engine.CloneStage.METADATA),
                            p.stageSeconds(dev.ferry.engine.CloneStage.METADATA), p.stageSeconds(dev.ferry.engine.CloneStage.FILE_COPY), p.stageSeconds(dev.ferry.engine.CloneStage.FILE_SYNC));
                    }
                    else
                    {
                        final long cpu0 = processCpuNanos();
                        final long t0 = System.nanoTime();
                        if (tls)
                        {
                            ferryClone(tlsDonor.address(), dst, pair.client);
                        }
                        else
                        {
                            tarNc(src, dst);
                        }
                        peerTimes[r] = (System.nanoTime() - t0) / 1e9;
                        peerCpu[r] = (processCpuNanos() - cpu0) / 1e9;
                        final long copied = treeBytes(dst);
                        if (copied != bytes)
                        {
                            throw new FerryException(ErrorCode.INTERNAL, peerName + " copied " + copied + " of " + bytes);
                        }
                        // tar and nc run in child processes: their CPU time is not this JVM's
                        out.printf(Locale.ROOT, "  run %d %-7s %6.2f s  %s%s%n", r, peerName, peerTimes[r],
                            Units.rate(bytes, peerTimes[r]),
                            tls ? String.format(Locale.ROOT, "  %.2f CPU s/GB", perGb(peerCpu[r], bytes)) : "");
                    }
                    out.flush();
                    if (!keep && fileCount(dst) < 1000)
                    {
                        // few large files: delete now so dirty pages and disk space do not pile up; many small
                        // files stay until the end (no-journal ext4 is slow to create files right after deleting many)
                        deleteTree(dst);
                        toDelete.remove(dst);
                    }
                }
            }
        }
        final double fm = median(ferry);
        out.printf(Locale.ROOT, "  ferry  median %s, %.2f CPU s/GB of donor and client (%d threads, checksum %s, " +
            "sync %s, network/data %.4f)%n", Units.rate(bytes, fm), perGb(median(ferryCpu), bytes), threads,
            noChecksum ? "off" : "crc32c", sync ? "on" : "off", network / (double)Math.max(1, bytes * runs));
        if (pki != null)
        {
            deleteTree(pki);
        }
        if (racePeer)
        {
            final double pm = median(peerTimes);
            if (tls)
            {
                out.printf(Locale.ROOT, "  %s median %s, %.2f CPU s/GB of donor and client%n", peerName,
                    Units.rate(bytes, pm), perGb(median(peerCpu), bytes));
                out.printf(Locale.ROOT, "  ratio ferry over TLS / ferry in clear text = %.2f%n", fm / pm);
            }
            else
            {
                out.printf(Locale.ROOT, "  %s median %s%n", peerName, Units.rate(bytes, pm));
                out.printf(Locale.ROOT, "  ratio ferry / tar|nc = %.2fx%n", pm / fm);
            }
        }
        if (latency.getTotalCount() > 0)
        {
            out.printf(Locale.ROOT, "  chunk latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  (%d chunks)%n",
                latency.getValueAtPercentile(50) / 1e6, latency.getValueAtPercentile(90) / 1e6,
                latency.getValueAtPercentile(99) / 1e6, latency.getMaxValue() / 1e6, latency.getTotalCount());
        }
        out.flush();
    }

    /**
     * {@code --wan RATE,RTT,WINDOW}: link rate in bytes/s, round trip in ms, window in bytes.
     */
    static long[] parseWan(final String spec)
    {
        final String[] parts = spec.split(",");
        if (parts.length != 3)
        {
            throw new IllegalArgumentException("--wan takes RATE,RTT,WINDOW (e.g. 100M,50ms,1M), got '" + spec + "'");
        }
        final String rtt = parts[1].trim().toLowerCase(Locale.ROOT);
        try
        {
            return new long[] { Units.parseRate(parts[0]),
                Long.parseLong(rtt.endsWith("ms") ? rtt.substring(0, rtt.length() - 2) : rtt),
                Units.parseSize(parts[2]) };
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("--wan takes RATE,RTT,WINDOW (e.g. 100M,50ms,1M), got '" + spec + "'", ex);
        }
    }

    /**
     * @return the many-files set of {@code files} files under {@code base}, generated unless a finished one is there
     *     (a marker file written last says so).
     */
    private static Path manyFilesSet(final PrintWriter out, final Path base, final int files) throws IOException
    {
        final Path set = base.resolve("many-files-" + files);
        final Path done = base.resolve("many-files-" + files + ".complete");
        if (!Files.exists(done))
        {
            if (Files.exists(set))
            {
                deleteTree(set); // an interrupted generation
            }
            out.printf(Locale.ROOT, "generating %d files of 0-96 bytes under %s (kept for later runs)%n", files, set);
            out.flush();
            final long t0 = System.nanoTime();
            new DatasetGenerator(10).manyTiny(set, files, Math.max(1, files / 1000));
            Files.write(done, new byte[0]);
            out.printf(Locale.ROOT, "  generated in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        return set;
    }

    /**
     * Durable against durable on many tiny files, same run, alternating: Ferry (fsync at the end, its default)
     * against {@code tar | nc; sync}, and Ferry {@code --no-sync} against bare {@code tar | nc}. In-process (warm
     * JVM): whole commands are {@code scripts/many-files-bench.sh}'s. Destinations are deleted at the end only.
     */
    private void manyFilesRace(final PrintWriter out, final Path src, final Path base, final List<Path> toDelete)
        throws Exception
    {
        final boolean peer = hasCommand("nc") && hasCommand("tar") && hasCommand("sync");
        final String[] methods = peer ? new String[] { "ferry", "tar|nc;sync", "ferry --no-sync", "tar|nc" } :
            new String[] { "ferry", "ferry --no-sync" };
        final double[][] times = new double[methods.length][runs];
        final long files = fileCount(src);
        final long bytes = treeBytes(src);
        out.printf(Locale.ROOT, "dataset %s: %d files of %s; %d rounds of %s, alternating, destinations kept until " +
            "the end; Ferry in this warm JVM (%d threads)%s%n", src, files, Units.bytes(bytes), runs,
            String.join(", ", methods), threads, peer ? "" : "; no nc, tar or sync: racing nobody");
        out.flush();
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings().checksum(!noChecksum)).maxClones(2)).start())
        {
            for (int r = 0; r < runs; r++)
            {
                for (int k = 0; k < methods.length; k++)
                {
                    // alternate the order from round to round
                    final int m = (r & 1) == 0 ? k : methods.length - 1 - k;
                    final String method = methods[m];
                    settle();
                    warm(src);
                    final Path dst = freshDestination(base, method.startsWith("ferry") ? "many-ferry-" : "many-tar-",
                        src, r, toDelete);
                    final long t0 = System.nanoTime();
                    if (method.startsWith("ferry"))
                    {
                        final boolean durable = !method.endsWith("--no-sync");
                        final CloneResult result = new CloneClient(donor.address(), dst, new CloneClient.Options()
                            .threads(threads).applyThreads(applyThreads)
                            .settings(new CloneSettings().sync(durable))).run();
                        // a file of zeros is a hole that never travels: data and holes make up the bytes
                        if (result.dataBytes() + result.holeBytes() != bytes || fileCount(dst) != files ||
                            treeBytes(dst) != bytes)
                        {
                            throw new FerryException(ErrorCode.INTERNAL, method + " copied " + result.dataBytes() +
                                " bytes and " + result.holeBytes() + " of holes of " + bytes + ", " + fileCount(dst) +
                                " of " + files + " files");
                        }
                    }
                    else
                    {
                        tarNc(src, dst);
                        if (method.endsWith("sync"))
                        {
                            final Process sync = new ProcessBuilder("sync").redirectErrorStream(true).start();
                            drain(sync.getInputStream());
                            sync.waitFor();
                        }
                        if (fileCount(dst) != files)
                        {
                            throw new FerryException(ErrorCode.INTERNAL, method + " copied " + fileCount(dst) +
                                " of " + files + " files");
                        }
                    }
                    times[m][r] = (System.nanoTime() - t0) / 1e9;
                    out.printf(Locale.ROOT, "  run %d %-16s %7.2f s%n", r, method, times[m][r]);
                    out.flush();
                }
            }
        }
        for (int m = 0; m < methods.length; m++)
        {
            out.printf(Locale.ROOT, "  %-16s median %7.2f s%n", methods[m], median(times[m]));
        }
        if (peer)
        {
            out.printf(Locale.ROOT, "  ratio ferry / tar|nc;sync (durable) = %.2fx; ferry --no-sync / tar|nc = %.2fx%n",
                median(times[1]) / median(times[0]), median(times[3]) / median(times[2]));
        }
        out.flush();
    }

    /**
     * Clones of {@code src} through a {@link WanProxy}; every copy must be identical. Once, unless {@code --runs} is
     * given: then that many rounds, and with {@code --compress} each round is a plain clone and a compressed one (which
     * goes first alternates), every destination kept until the end (on no-journal ext4 files created right after a
     * mass deletion are 2-3x slower), and the medians and their ratio close the report.
     */
    private void wanRun(final PrintWriter out, final Path src, final Path base, final List<Path> toDelete)
        throws Exception
    {
        final long[] link;
        final long clientRate;
        try
        {
            link = parseWan(wan);
            clientRate = Units.parseRate(maxRate);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new CommandLine.ParameterException(spec.commandLine(), ex.getMessage());
        }
        final long bytes = treeBytes(src);
        final CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        // without --threads the client autotunes, as ferry clone does
        final boolean pinned = parsed.hasMatchedOption("--threads");
        final int rounds = parsed.hasMatchedOption("--runs") ? runs : 1;
        final boolean race = rounds > 1 && compress != null;
        out.printf(Locale.ROOT, "dataset %s: %s in %d files; %s through a link of %s, %d ms RTT, %s window " +
            "per connection (%s per connection at most), %s%s%n", src, Units.bytes(bytes), fileCount(src),
            race ? rounds + " rounds of a plain and a compressed clone, alternating" +
                (warmUp > 0 ? " (after " + warmUp + " untimed)," : ",") :
                rounds > 1 ? rounds + " clones" : "one clone",
            link[0] == 0 ? "unlimited rate" : Units.rate(link[0], 1), link[1], Units.bytes(link[2]),
            link[1] == 0 ? "no limit" : Units.rate(link[2] * 1000 / Math.max(1, link[1]), 1),
            pinned ? threads + " threads" : "threads autotuned from 2 up to " + CloneClient.Options.MAX_THREADS_DEFAULT,
            (clientRate > 0 ? ", --max-rate " + Units.rate(clientRate, 1) : "") +
            (compress != null ? ", --compress " + compress : ""));
        out.flush();
        final double[] plain = new double[race ? rounds : 0];
        final double[] compressed = new double[rounds];
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings().checksum(!noChecksum))).start();
            WanProxy proxy = new WanProxy(donor.address(), link[0], link[1], link[2]))
        {
            for (int w = 0; race && w < warmUp; w++)
            {
                out.println("  warm-up (not counted):");
                wanClone(out, src, base, toDelete, proxy, link, clientRate, pinned, 0, -1 - w);
                wanClone(out, src, base, toDelete, proxy, link, clientRate, pinned, compress, -1 - w);
            }
            for (int r = 0; r < rounds; r++)
            {
                if (race)
                {
                    final boolean plainFirst = (r & 1) == 0;
                    final int first = plainFirst ? 0 : compress;
                    final int second = plainFirst ? compress : 0;
                    final double a = wanClone(out, src, base, toDelete, proxy, link, clientRate, pinned, first, r);
                    final double b = wanClone(out, src, base, toDelete, proxy, link, clientRate, pinned, second, r);
                    plain[r] = plainFirst ? a : b;
                    compressed[r] = plainFirst ? b : a;
                }
                else
                {
                    compressed[r] = wanClone(out, src, base, toDelete, proxy, link, clientRate, pinned,
                        compress == null ? 0 : compress, r);
                    if (!keep && rounds == 1)
                    {
                        // one clone: nothing is created after it, so deleting at once costs no later run
                        final Path dst = toDelete.remove(toDelete.size() - 1);
                        deleteTree(dst);
                    }
                }
            }
        }
        if (race)
        {
            final double p = median(plain);
            final double c = median(compressed);
            out.printf(Locale.ROOT, "  medians: plain %.2f s, --compress %d %.2f s: compressed is %.2fx as fast%n",
                p, compress, c, p / c);
        }
        else if (rounds > 1)
        {
            out.printf(Locale.ROOT, "  median %.2f s%n", median(compressed));
        }
        out.flush();
    }

    /**
     * @param level zstd level the client asks for, 0 for none.
     * @return seconds the clone took.
     */
    private double wanClone(final PrintWriter out, final Path src, final Path base, final List<Path> toDelete,
        final WanProxy proxy, final long[] link, final long clientRate, final boolean pinned, final int level,
        final int round) throws Exception
    {
        final Path dst = freshDestination(base, level == 0 ? "wan-" : "wan-z" + level + "-", src, round, toDelete);
        settle();
        warm(src);
        final long crossed0 = proxy.downstreamBytes();
        final long connections0 = proxy.connections();
        final long t0 = System.nanoTime();
        final CloneClient client = new CloneClient(proxy.address(), dst, new CloneClient.Options()
            .threads(pinned ? threads : 2).maxThreads(pinned ? 0 : CloneClient.Options.MAX_THREADS_DEFAULT)
            .applyThreads(applyThreads).maxRate(clientRate).compress(level)
            .settings(new CloneSettings().sync(sync)));
        final long donorCpu0 = threadCpuNanos("ferry-donor-loop");
        final long processCpu0 = processCpuNanos();
        final CloneResult result = client.run();
        final double seconds = (System.nanoTime() - t0) / 1e9;
        final double donorCpu = (threadCpuNanos("ferry-donor-loop") - donorCpu0) / 1e9;
        final double processCpu = (processCpuNanos() - processCpu0) / 1e9;
        final List<String> differences = TreeComparator.compare(src, dst);
        if (!differences.isEmpty())
        {
            throw new FerryException(ErrorCode.INTERNAL, "the copy through the WAN proxy differs: " + differences);
        }
        final double rate = result.dataBytes() / seconds;
        out.printf(Locale.ROOT, "  %sidentical: %s in %.2f s = %s%s, %d threads at the end, %d connections, %s " +
            "crossed the proxy%n", level == 0 ? "" : "--compress " + level + ": ", Units.bytes(result.dataBytes()),
            seconds, Units.rate(result.dataBytes(), seconds),
            link[0] == 0 ? "" : String.format(Locale.ROOT, " = %.0f%% of the link", 100 * rate / link[0]),
            client.progress().threads(), proxy.connections() - connections0,
            Units.bytes(proxy.downstreamBytes() - crossed0));
        out.printf(Locale.ROOT, "  on the wire %s = %.1f%% of the data (%s of data travelled zstd-compressed as " +
            "%s); CPU: donor loops %.2f s, whole process %.2f s; stages: metadata %.2f s, file copy %.2f s, " +
            "file sync %.2f s%n", Units.bytes(result.networkBytes()),
            100.0 * result.networkBytes() / Math.max(1, result.dataBytes()),
            Units.bytes(client.progress().compressedDataBytes()), Units.bytes(client.progress().compressedWireBytes()),
            donorCpu, processCpu, client.progress().stageSeconds(dev.ferry.engine.CloneStage.METADATA),
            client.progress().stageSeconds(dev.ferry.engine.CloneStage.FILE_COPY),
            client.progress().stageSeconds(dev.ferry.engine.CloneStage.FILE_SYNC));
        out.flush();
        return seconds;
    }

    /**
     * One clone of {@code src} through a {@link CuttingProxy} that resets connections {@link #restarts} times, at
     * cut points spread at random over the donor's stream; the copy must be identical.
     */
    private void restartCost(final PrintWriter out, final Path src, final Path base, final List<Path> toDelete)
        throws Exception
    {
        final long bytes = treeBytes(src);
        final long[] cuts = cutPoints(new Random(seed), restarts, bytes);
        final Path dst = freshDestination(base, "restarts-", src, 0, toDelete);
        out.printf(Locale.ROOT, "dataset %s: %s in %d files; one clone with %d threads cut %d times at random points " +
            "(seed %d)%n", src, Units.bytes(bytes), fileCount(src), threads, restarts, seed);
        out.flush();
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings().checksum(!noChecksum))).start();
            CuttingProxy proxy = new CuttingProxy(donor.address(), cuts))
        {
            settle();
            warm(src);
            final long t0 = System.nanoTime();
            final CloneResult result = new CloneClient(proxy.address(), dst, new CloneClient.Options()
                .threads(threads).applyThreads(applyThreads).settings(new CloneSettings().sync(sync))
                .transport(new TransportSettings().readTimeoutMs(RESTART_READ_TIMEOUT_MS).heartbeatMs(RESTART_HEARTBEAT_MS))
                .restartWindowMs(RESTART_WINDOW_MS).maxRestarts(Math.max(100, 2 * restarts))).run();
            final double seconds = (System.nanoTime() - t0) / 1e9;
            final List<String> differences = TreeComparator.compare(src, dst);
            if (!differences.isEmpty())
            {
                throw new FerryException(ErrorCode.INTERNAL, "the copy differs after restarts: " + differences);
            }
            out.printf(Locale.ROOT, "  identical after %d cuts and %d restarts in %.2f s (%d connections)%n",
                proxy.cuts(), result.restarts(), seconds, proxy.connections());
            out.printf(Locale.ROOT, "  donor handed %d bytes to its sockets = %.4f x the dataset (%d bytes)%n",
                donor.bytesSent(), donor.bytesSent() / (double)Math.max(1, bytes), bytes);
            out.printf(Locale.ROOT, "  %d bytes crossed the proxy to the client = %.4f x the dataset; client received " +
                "%d network bytes%n", proxy.downstreamBytes(), proxy.downstreamBytes() / (double)Math.max(1, bytes),
                result.networkBytes());
            if (proxy.cuts() < restarts)
            {
                out.printf(Locale.ROOT, "  note: only %d of %d cuts fired before the clone finished%n", proxy.cuts(),
                    restarts);
            }
        }
        if (!keep)
        {
            deleteTree(dst);
            toDelete.remove(dst);
        }
        out.flush();
    }

    /**
     * {@code count} ascending cut points with gaps drawn uniformly from 1 to {@code 2 * bytes / (count + 1)}, so that
     * on average they spread over the whole stream of a clone of {@code bytes} and the last one falls before its end.
     */
    static long[] cutPoints(final Random random, final int count, final long bytes)
    {
        final long maxGap = Math.max(1, 2 * bytes / (count + 1));
        final long[] cuts = new long[count];
        long at = 0;
        for (int i = 0; i < count; i++)
        {
            at += 1 + (long)(random.nextDouble() * maxGap);
            cuts[i] = at;
        }
        return cuts;
    }

    /**
     * A finished Ferry clone: its client (for progress and latency) and its result.
     */
    private static final class FerryRun
    {
        final CloneClient client;
        final CloneResult result;

        FerryRun(final CloneClient client, final CloneResult result)
        {
            this.client = client;
            this.result = result;
        }
    }

    private FerryRun ferryClone(final InetSocketAddress donor, final Path dst, final TlsConfig tls)
    {
        final TransportSettings transport = new TransportSettings();
        if (tls != null)
        {
            transport.tls(tls);
        }
        final CloneClient client = new CloneClient(donor, dst, new CloneClient.Options().threads(threads)
            .applyThreads(applyThreads).settings(new CloneSettings().sync(sync)).transport(transport));
        return new FerryRun(client, client.run());
    }

    private static Path freshDestination(final Path base, final String prefix, final Path src, final int run,
        final List<Path> toDelete)
    {
        final Path dst = base.resolve(prefix + src.getFileName() + "-" + run + "-" + System.nanoTime());
        toDelete.add(dst);
        return dst;
    }

    /**
     * @return CPU time of this JVM (donor and client both run here), all threads.
     */
    private static long processCpuNanos()
    {
        return ((com.sun.management.OperatingSystemMXBean)ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime();
    }

    private static double perGb(final double cpuSeconds, final long bytes)
    {
        return cpuSeconds / (Math.max(1, bytes) / 1e9);
    }

    private static double tarNc(final Path src, final Path dst) throws IOException, InterruptedException
    {
        Files.createDirectories(dst);
        final int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            port = probe.getLocalPort();
        }
        final Process recv = new ProcessBuilder("bash", "-c", "nc -d -l 127.0.0.1 " + port + " | tar xf - -C '" + dst + "'")
            .redirectErrorStream(true).start();
        waitListening(port);
        final long t0 = System.nanoTime();
        final Process send = new ProcessBuilder("bash", "-c", "tar cf - -C '" + src + "' . | nc -N 127.0.0.1 " + port)
            .redirectErrorStream(true).start();
        drain(send.getInputStream());
        if (!send.waitFor(600, TimeUnit.SECONDS) || !recv.waitFor(600, TimeUnit.SECONDS))
        {
            send.destroyForcibly();
            recv.destroyForcibly();
            throw new FerryException(ErrorCode.TIMEOUT, "tar|nc did not finish");
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * A throw-away self-signed identity for 127.0.0.1 made with the JDK's keytool, as TLS configs for both ends.
     */
    private static final class TlsPair
    {
        final TlsConfig server;
        final TlsConfig client;

        private TlsPair(final TlsConfig server, final TlsConfig client)
        {
            this.server = server;
            this.client = client;
        }

        static TlsPair make(final Path dir) throws IOException, InterruptedException
        {
            final String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
            final Path p12 = dir.resolve("donor.p12");
            final Path crt = dir.resolve("donor.crt");
            run(keytool, "-genkeypair", "-alias", "donor", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-keystore", p12.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit");
            run(keytool, "-exportcert", "-rfc", "-alias", "donor", "-keystore", p12.toString(), "-storepass", "changeit",
                "-file", crt.toString());
            return new TlsPair(TlsConfig.serverPkcs12(p12, "changeit".toCharArray(), null),
                TlsConfig.client(crt, null, null));
        }

        private static void run(final String... command) throws IOException, InterruptedException
        {
            final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            drain(p.getInputStream());
            if (p.waitFor() != 0)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "keytool failed: " + String.join(" ", command));
            }
        }
    }

    /**
     * Untimed: write back dirty pages of earlier runs so they do not throttle this one.
     */
    /**
     * @return CPU time of the live threads whose name starts with {@code prefix} (threads that ended are not counted).
     */
    private static long threadCpuNanos(final String prefix)
    {
        final java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (final Thread t : Thread.getAllStackTraces().keySet())
        {
            if (t.getName().startsWith(prefix))
            {
                sum += Math.max(0, mx.getThreadCpuTime(t.getId()));
            }
        }
        return sum;
    }

    static void settle() throws IOException, InterruptedException
    {
        new ProcessBuilder("sync").inheritIO().start().waitFor();
    }

    /**
     * Wait until the peer's {@code nc -l} listens. It accepts a single connection, so probing it with a connect would
     * consume it: poll the kernel's socket table ({@code ss}) instead, a few milliseconds apart (CLI only).
     */
    private static void waitListening(final int port) throws InterruptedException
    {
        for (int i = 0; i < 500; i++)
        {
            try
            {
                final Process p = new ProcessBuilder("bash", "-c", "ss -Hltn 'sport = :" + port + "' | grep -q .").start();
                if (p.waitFor() == 0)
                {
                    return;
                }
            }
            catch (final IOException ex)
            {
                Thread.sleep(50);
                return;
            }
            Thread.sleep(10);
        }
    }

    private static void drain(final InputStream in) throws IOException
    {
        in.transferTo(java.io.OutputStream.nullOutputStream());
    }

    private static boolean hasCommand(final String name)
    {
        try
        {
            return new ProcessBuilder("bash", "-c", "command -v " + name).start().waitFor() == 0;
        }
        catch (final IOException | InterruptedException ex)
        {
            return false;
        }
    }

    /**
     * Read every file so the page cache is warm (this machine evicts idle page cache after about a minute).
     */
    static void warm(final Path src) throws IOException
    {
        final byte[] buf = new byte[1 << 20];
        try (Stream<Path> s = Files.walk(src))
        {
            for (final Path p : (Iterable<Path>)s::iterator)
            {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                {
                    try (InputStream in = Files.newInputStream(p))
                    {
                        while (in.read(buf) >= 0)
                        {
                            // discard
                        }
                    }
                }
            }
        }
    }

    static long treeBytes(final Path root) throws IOException
    {
        try (Stream<Path> s = Files.walk(root))
        {
            final Path store = root.resolve(dev.ferry.engine.layout.ManifestScanner.HASH_STORE);
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !p.toString().contains("/.ferry/") &&
                !p.equals(store))
                .mapToLong(p ->
                {
                    try
                    {
                        return Files.size(p);
                    }
                    catch (final IOException ex)
                    {
                        return 0;
                    }
                }).sum();
        }
    }

    static long fileCount(final Path root) throws IOException
    {
        try (Stream<Path> s = Files.walk(root))
        {
            // the copy's hash store is not one of the tree's files
            final Path store = root.resolve(dev.ferry.engine.layout.ManifestScanner.HASH_STORE);
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !p.equals(store)).count();
        }
    }

    static double median(final double[] v)
    {
        final double[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }

    static void deleteTree(final Path p) throws IOException
    {
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS))
        {
            Files.walkFileTree(p, new Cleaner());
        }
    }
}
