package dev.ferry.engine.tools;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.cli.Units;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.verify.TreeComparator;

/**
 * {@code ferry bench --update DIR...}: what an update of a copy costs, against {@code rsync -a --delete} from an
 * rsync daemon making the same update in the same run. The donor tree is a copy of the DIRs; a copy of it is made
 * with a Ferry clone; then the donor changes: 40 random 4 KiB overwrites in the large files (64 MiB and more), an
 * append to one, a truncation of another, 100 small files rewritten, 200 deleted, 200 added, a directory renamed.
 * Each timed run starts from a fresh copy of the pristine copy (then {@code sync}, the donor re-read, all untimed):
 * for Ferry a Ferry clone of it with {@code --keep-hashes}, so that it holds the hash store an update of the night
 * before would have left for the files it compared (the copy's hashes are not read again), for rsync
 * {@code cp -a}; and a third contender, Ferry on a {@code cp -a} copy, whose store describes other inodes, so the
 * copy is read and hashed as in the first update after a plain clone. Each runs the whole
 * command in a child process, JVM start included for Ferry, default flags ({@code ferry clone --update --from ...
 * --to ...}: forced to disk at the end); the three take turns.
 * The bytes on the wire are measured in an untimed in-process update through a counting proxy. Then a no-change
 * update of an updated copy (again the whole command), with the JVM's start and an in-process scan of the tree for
 * scale. Every copy is compared with the donor. Tooling; single-threaded.
 */
final class UpdateBench
{
    static final long LARGE_FILE = 64L << 20;
    static final int OVERWRITES = 40;
    static final int OVERWRITE_BYTES = 4096;
    static final int APPEND_BYTES = 1 << 20;
    static final int REWRITTEN = 100;
    static final int DELETED = 200;
    static final int ADDED = 200;

    private final PrintWriter out;
    private final int runs;
    private final long seed;

    UpdateBench(final PrintWriter out, final int runs, final long seed)
    {
        this.out = out;
        this.runs = runs;
        this.seed = seed;
    }

    void run(final List<Path> datasets, final Path base, final List<Path> toDelete) throws Exception
    {
        requireCommand("rsync", "apt-get install rsync");
        final Path root = Files.createTempDirectory(base, "update-");
        toDelete.add(root);
        final Path donorTree = root.resolve("donor");
        Files.createDirectories(donorTree);
        for (final Path d : datasets)
        {
            shell("cp -a '" + d.toAbsolutePath() + "' '" + donorTree.resolve(d.getFileName().toString()) + "'");
        }
        final long bytes = BenchCommand.treeBytes(donorTree);
        out.printf(Locale.ROOT, "update of %s in %d files (a copy of %s); %d runs each, alternating%n",
            Units.bytes(bytes), BenchCommand.fileCount(donorTree), datasets, runs);
        out.flush();
        final Path rsyncConf = root.resolve("rsyncd");
        Files.createDirectories(rsyncConf);
        try (DonorService donor = new DonorService(donorTree, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start())
        {
            final Path pristine = root.resolve("pristine");
            final CloneResult made = new CloneClient(donor.address(), pristine, new CloneClient.Options()).run();
            out.printf(Locale.ROOT, "  pristine copy made by a ferry clone: %s in %.2f s%n", Units.bytes(made.dataBytes()),
                made.seconds());
            final String changes = change(donorTree, new Random(seed));
            out.println("  donor changed: " + changes);
            out.flush();

            try (DonorService yesterday = new DonorService(pristine, new InetSocketAddress("127.0.0.1", 0),
                new DonorService.Options()).start())
            {
                wire(donor, donorTree, yesterday, root);
                warmDonor(root);

                final Process daemon = rsyncDaemon(donorTree, rsyncConf);
                try
                {
                    timedRuns(donor, yesterday, pristine, root, donorTree, rsyncConf);
                }
                finally
                {
                    daemon.destroy();
                    daemon.waitFor(10, TimeUnit.SECONDS);
                }
            }
        }
    }

    /** Drops everything: the warm-up donor's clone lines are not the bench's. */
    private static final System.Logger QUIET = new System.Logger()
    {
        @Override
        public String getName()
        {
            return "ferry.bench.warm";
        }

        @Override
        public boolean isLoggable(final Level level)
        {
            return false;
        }

        @Override
        public void log(final Level level, final java.util.ResourceBundle bundle, final String msg,
            final Throwable thrown)
        {
        }

        @Override
        public void log(final Level level, final java.util.ResourceBundle bundle, final String format,
            final Object... params)
        {
        }
    };

    /** {@code -Dferry.bench.trace=true}: the timed Ferry runs trace their steps, printed after each run. */
    private static final boolean TRACE = Boolean.getBoolean("ferry.bench.trace");
    private static final String CLIENT_OPTS = System.getProperty("ferry.bench.clientOpts", "");

    /** Untimed updates the donor's JVM serves before the timed runs ({@link #warmDonor}). */
    static final int WARM_UPDATES = 5;
    /** Small files of the warm-up tree: enough that the scan's and the manifest's loops are compiled too. */
    private static final int WARM_SMALL = 2000;

    /**
     * Untimed: {@link #WARM_UPDATES} updates of a small tree (four files of 16 MiB, 2,000 small ones) from another
     * donor in this JVM, so that the timed runs meet a donor whose code is compiled, as a donor that has been
     * running for a while is. Measured with a fresh {@code ferry donor} serving this bench's update: its first four
     * updates took 2.17-2.56 s, the fifth and sixth 1.64-1.76 s, while its C2 compiler went from 218 compilations
     * in the first to 12-21 in the fourth to sixth (and took 46% of the donor's CPU samples in the third). The timed
     * clients are child processes, as cold as ever.
     */
    private void warmDonor(final Path root) throws Exception
    {
        final long start = System.nanoTime();
        final Path tree = root.resolve("warm-donor");
        final Path copy = root.resolve("warm-copy");
        final Random random = new Random(seed + 1);
        Files.createDirectories(tree.resolve("big"));
        for (int i = 0; i < 4; i++)
        {
            Files.write(tree.resolve("big/f" + i), bytes(random, 16 << 20));
        }
        for (int i = 0; i < WARM_SMALL; i++)
        {
            Files.createDirectories(tree.resolve("small/d" + i % 20));
            Files.write(tree.resolve("small/d" + i % 20 + "/s" + i), bytes(random, 1 + random.nextInt(4 << 10)));
        }
        try (DonorService d = new DonorService(tree, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().logger(QUIET)).start())
        {
            new CloneClient(d.address(), copy, new CloneClient.Options()).run();
            final byte[] four = new byte[OVERWRITE_BYTES];
            for (int u = 0; u < WARM_UPDATES; u++)
            {
                for (int i = 0; i < 4; i++)
                {
                    random.nextBytes(four);
                    try (RandomAccessFile f = new RandomAccessFile(tree.resolve("big/f" + i).toFile(), "rw"))
                    {
                        f.seek(random.nextInt((16 << 20) - OVERWRITE_BYTES));
                        f.write(four);
                    }
                }
                for (int i = 0; i < 20; i++)
                {
                    final int n = random.nextInt(WARM_SMALL);
                    Files.write(tree.resolve("small/d" + n % 20 + "/s" + n), bytes(random, 1 + random.nextInt(4 << 10)));
                }
                new CloneClient(d.address(), copy, new CloneClient.Options().update(true)).run();
            }
        }
        check("ferry (warm-up)", tree, copy);
        BenchCommand.deleteTree(tree);
        BenchCommand.deleteTree(copy);
        out.printf(Locale.ROOT, "  donor warmed: %d untimed updates of a small tree from this JVM in %.1f s (as a donor " +
            "running for a while is; the timed clients start cold)%n", WARM_UPDATES, (System.nanoTime() - start) / 1e9);
        out.flush();
    }

    /**
     * The changes, made once to the donor's tree (seeded): the large files are those of 64 MiB and more.
     */
    static String change(final Path tree, final Random random) throws IOException
    {
        final List<Path> large = new ArrayList<>();
        final List<Path> small = new ArrayList<>();
        final List<Path> dirs = new ArrayList<>();
        try (Stream<Path> s = Files.walk(tree))
        {
            for (final Path p : (Iterable<Path>)s.sorted()::iterator)
            {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                {
                    (Files.size(p) >= LARGE_FILE ? large : small).add(p);
                }
                else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !p.equals(tree))
                {
                    dirs.add(p);
                }
            }
        }
        if (large.size() < 2 || small.size() < REWRITTEN + DELETED + 1)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--update needs at least 2 files of 64 MiB or more and " +
                (REWRITTEN + DELETED + 1) + " smaller ones (peerbench src-large and src-small)");
        }
        // the renamed directory: a leaf holding small files, left out of the other changes
        Path renamed = null;
        for (final Path d : dirs)
        {
            try (Stream<Path> s = Files.list(d))
            {
                if (s.allMatch(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) && small.stream().anyMatch(
                    f -> f.getParent().equals(d)))
                {
                    renamed = d;
                    break;
                }
            }
        }
        final Path dirToRename = renamed;
        final List<Path> candidates = new ArrayList<>(small);
        if (dirToRename != null)
        {
            candidates.removeIf(p -> p.startsWith(dirToRename));
        }
        Collections.shuffle(candidates, random);
        final byte[] four = new byte[OVERWRITE_BYTES];
        for (int i = 0; i < OVERWRITES; i++)
        {
            final Path p = large.get(random.nextInt(large.size()));
            random.nextBytes(four);
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw"))
            {
                f.seek((long)(random.nextDouble() * (f.length() - OVERWRITE_BYTES)));
                f.write(four);
            }
        }
        Files.write(large.get(0), bytes(random, APPEND_BYTES), StandardOpenOption.APPEND);
        final Path truncated = large.get(large.size() - 1);
        final long truncatedTo = Files.size(truncated) * 3 / 4;
        try (RandomAccessFile f = new RandomAccessFile(truncated.toFile(), "rw"))
        {
            f.setLength(truncatedTo);
        }
        for (int i = 0; i < REWRITTEN; i++)
        {
            final Path p = candidates.get(i);
            Files.write(p, bytes(random, (int)Files.size(p)));
        }
        for (int i = REWRITTEN; i < REWRITTEN + DELETED; i++)
        {
            Files.delete(candidates.get(i));
        }
        for (int i = 0; i < ADDED; i++)
        {
            final Path near = candidates.get(REWRITTEN + DELETED + random.nextInt(candidates.size() - REWRITTEN - DELETED));
            Files.write(near.resolveSibling("added-" + i + ".dat"), bytes(random, 1024 + random.nextInt(64 * 1024 - 1023)));
        }
        String moved = "no directory renamed (none holds only files)";
        if (dirToRename != null)
        {
            Files.move(dirToRename, dirToRename.resolveSibling(dirToRename.getFileName() + "-renamed"));
            moved = "directory " + tree.relativize(dirToRename) + " renamed";
        }
        return String.format(Locale.ROOT, "%d x 4 KiB overwritten in %d large files, %s appended to %s, %s " +
            "truncated to %s, %d small files rewritten, %d deleted, %d added, %s", OVERWRITES, large.size(),
            Units.bytes(APPEND_BYTES), tree.relativize(large.get(0)), tree.relativize(truncated),
            Units.bytes(truncatedTo), REWRITTEN, DELETED, ADDED, moved);
    }

    private static byte[] bytes(final Random random, final int n)
    {
        final byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    /**
     * Untimed: one update in-process through a counting proxy, for the bytes on the wire both ways.
     */
    private void wire(final DonorService donor, final Path donorTree, final DonorService yesterday, final Path root)
        throws Exception
    {
        final Path copy = ferryCopy(yesterday, root, "wire");
        final long sentBefore = donor.bytesSent();
        try (CuttingProxy proxy = new CuttingProxy(donor.address(), new long[0]))
        {
            final CloneResult r = new CloneClient(proxy.address(), copy, new CloneClient.Options().update(true)).run();
            final long dataset = BenchCommand.treeBytes(donorTree);
            check("ferry", donorTree, copy);
            final long wire = proxy.downstreamBytes() + proxy.upstreamBytes();
            out.printf(Locale.ROOT, "  wire (in-process update through a counting proxy, untimed): %d bytes down + %d " +
                "up = %s = %.3f%% of the dataset (%s); data %s, donor sent %s; %s%n", proxy.downstreamBytes(),
                proxy.upstreamBytes(), Units.bytes(wire), 100.0 * wire / Math.max(1, dataset), Units.bytes(dataset),
                Units.bytes(r.dataBytes()), Units.bytes(donor.bytesSent() - sentBefore), r.diff());
            out.flush();
        }
    }

    private void timedRuns(final DonorService donor, final DonorService yesterday, final Path pristine,
        final Path root, final Path donorTree, final Path rsyncConf) throws Exception
    {
        final String rsyncUrl = "rsync://127.0.0.1:" + Files.readString(rsyncConf.resolve("port")).trim() + "/donor/";
        final double[] ferry = new double[runs];
        final double[] ferryCp = new double[runs];
        final double[] rsync = new double[runs];
        final double[] rsyncSync = new double[runs];
        Path updated = null;
        for (int r = 0; r < runs; r++)
        {
            for (int k = 0; k < 3; k++)
            {
                final int turn = (r + k) % 3; // 0 ferry on its own copy, 1 rsync, 2 ferry on a cp -a copy
                final Path copy = turn == 0 ? ferryCopy(yesterday, root, "ferry-" + r) :
                    startingCopy(pristine, root, (turn == 1 ? "rsync-" : "ferry-cp-") + r);
                if (turn == 1)
                {
                    Files.deleteIfExists(copy.resolve(ManifestScanner.HASH_STORE)); // not part of the tree
                }
                BenchCommand.warm(donorTree);
                BenchCommand.settle();
                if (turn != 1)
                {
                    final Timed t = timed(ferryCommand(donor.address(), copy));
                    (turn == 0 ? ferry : ferryCp)[r] = t.seconds;
                    check("ferry", donorTree, copy);
                    out.printf(Locale.ROOT, "  run %d ferry%s %6.2f s   %s%n", r, turn == 0 ? "         " :
                        " (cp -a)", t.seconds, lastLine(t.output));
                    if (TRACE)
                    {
                        out.println(t.output.lines().filter(l -> l.startsWith("ferry trace:") || !CLIENT_OPTS.isEmpty())
                            .collect(java.util.stream.Collectors.joining("\n", "", "")));
                    }
                    if (turn == 0)
                    {
                        updated = copy;
                    }
                }
                else
                {
                    final Timed t = timed(List.of("rsync", "-a", "--delete", "--stats", rsyncUrl, copy + "/"));
                    rsync[r] = t.seconds;
                    final long t0 = System.nanoTime();
                    BenchCommand.settle();
                    rsyncSync[r] = rsync[r] + (System.nanoTime() - t0) / 1e9;
                    check("rsync", donorTree, copy);
                    out.printf(Locale.ROOT, "  run %d rsync  %6.2f s   (%.2f s with a sync after it; %s)%n", r,
                        rsync[r], rsyncSync[r], rsyncWire(t.output));
                }
                out.flush();
            }
        }
        final double fm = BenchCommand.median(ferry);
        final double fcm = BenchCommand.median(ferryCp);
        final double rm = BenchCommand.median(rsync);
        final double rsm = BenchCommand.median(rsyncSync);
        out.printf(Locale.ROOT, "  ferry --update median %.2f s (on a cp -a copy, its hashes read: %.2f s); rsync -a " +
            "--delete median %.2f s (%.2f s with sync)%n", fm, fcm, rm, rsm);
        out.printf(Locale.ROOT, "  ratio rsync / ferry = %.2fx (%.2fx against rsync followed by sync; ferry forces " +
            "the copy to disk itself); on a cp -a copy %.2fx%n", rm / fm, rsm / fm, rm / fcm);

        // a no-change update of an up-to-date copy, the whole command, and what that is made of
        BenchCommand.warm(donorTree);
        BenchCommand.settle();
        final double[] none = new double[runs];
        String line = "";
        for (int r = 0; r < runs; r++)
        {
            final Timed t = timed(ferryCommand(donor.address(), updated));
            none[r] = t.seconds;
            line = lastLine(t.output);
        }
        final double[] jvm = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            jvm[r] = timed(ferryVersionCommand()).seconds;
        }
        final double[] scan = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            final long t0 = System.nanoTime();
            ManifestScanner.scan(updated);
            scan[r] = (System.nanoTime() - t0) / 1e9;
        }
        final double[] rsyncNone = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            rsyncNone[r] = timed(List.of("rsync", "-a", "--delete", rsyncUrl, updated + "/")).seconds;
        }
        check("ferry", donorTree, updated);
        out.printf(Locale.ROOT, "  no-change update: ferry median %.2f s (%s); of it JVM start + exit %.2f s " +
            "(ferry --version) and one scan of the tree %.2f s (in-process, warm; donor and copy are each scanned " +
            "once); rsync -a --delete median %.2f s%n", BenchCommand.median(none), line, BenchCommand.median(jvm),
            BenchCommand.median(scan), BenchCommand.median(rsyncNone));
        out.flush();
    }

    /**
     * The pristine copy copied with {@code cp -a} to a fresh directory: the starting point of one run (its hash store
     * came along, but describes the pristine copy's inodes, so no update uses it).
     */
    private static Path startingCopy(final Path pristine, final Path root, final String name) throws Exception
    {
        final Path copy = root.resolve(name);
        shell("cp -a '" + pristine + "' '" + copy + "'");
        return copy;
    }

    /**
     * A Ferry clone of the pristine copy (untimed): the starting point of one of Ferry's runs, as the copy last
     * night's clone left, with its hash store.
     */
    private static Path ferryCopy(final DonorService yesterday, final Path root, final String name)
    {
        final Path copy = root.resolve(name);
        new CloneClient(yesterday.address(), copy, new CloneClient.Options().keepHashes(true)).run();
        return copy;
    }

    private void check(final String who, final Path expected, final Path copy)
    {
        final List<String> diffs = TreeComparator.compare(expected, copy);
        if (!diffs.isEmpty())
        {
            if ("ferry".equals(who))
            {
                throw new FerryException(ErrorCode.INTERNAL, "the updated copy differs: " + diffs);
            }
            out.println("  note: the " + who + " copy differs from the donor: " + diffs.subList(0, Math.min(5, diffs.size())));
        }
    }

    private static List<String> javaCommand()
    {
        final List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        final String cp = System.getProperty("java.class.path");
        if (cp.endsWith(".jar") && !cp.contains(java.io.File.pathSeparator))
        {
            // what ./ferry gives every command: the class-data archive beside the jar (scripts/ferry-jvm.sh), if
            // one is newer than it (an archive of another java is ignored by the JVM)
            final java.io.File jar = new java.io.File(cp);
            final String stem = jar.getName().substring(0, jar.getName().length() - ".jar".length()) + "-";
            final java.io.File[] archives = jar.getAbsoluteFile().getParentFile().listFiles((d, n) ->
                n.startsWith(stem) && n.endsWith(".jsa"));
            if (archives != null && archives.length == 1 && archives[0].lastModified() > jar.lastModified())
            {
                cmd.add("-XX:SharedArchiveFile=" + archives[0].getPath());
            }
            cmd.add("-jar");
            cmd.add(cp); // ferry.jar: its manifest carries Main-Class and Add-Exports
        }
        else
        {
            cmd.addAll(List.of("--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-cp", cp,
                dev.ferry.engine.cli.FerryMain.class.getName()));
        }
        return cmd;
    }

    private static List<String> ferryCommand(final InetSocketAddress donor, final Path copy)
    {
        final List<String> cmd = javaCommand();
        cmd.add(1, "-XX:TieredStopAtLevel=1"); // what ./ferry gives an update (scripts/ferry-jvm.sh)
        int at = 2;
        for (final String opt : CLIENT_OPTS.trim().split("\\s+"))
        {
            if (!opt.isEmpty())
            {
                cmd.add(at++, opt); // -Dferry.bench.clientOpts: JVM options to try on the timed client (say so)
            }
        }
        if (TRACE)
        {
            cmd.add(1, "-Dferry.trace=true");
        }
        cmd.addAll(List.of("clone", "--update", "--from", "127.0.0.1:" + donor.getPort(), "--to", copy.toString()));
        return cmd;
    }

    private static List<String> ferryVersionCommand()
    {
        final List<String> cmd = javaCommand();
        cmd.add("--version");
        return cmd;
    }

    /**
     * An rsync daemon on 127.0.0.1 serving {@code tree} as module {@code donor}; its port is written to
     * {@code conf/port}. Stopped by the caller through the returned process.
     */
    private static Process rsyncDaemon(final Path tree, final Path conf) throws Exception
    {
        final int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            port = probe.getLocalPort();
        }
        final String uid = shellOutput("id -u").trim();
        final String gid = shellOutput("id -g").trim();
        Files.writeString(conf.resolve("rsyncd.conf"), "use chroot = no\nuid = " + uid + "\ngid = " + gid +
            "\npid file = " + conf.resolve("rsyncd.pid") + "\n[donor]\n  path = " + tree + "\n  read only = yes\n",
            StandardCharsets.UTF_8);
        Files.writeString(conf.resolve("port"), Integer.toString(port));
        final Process p = new ProcessBuilder("rsync", "--daemon", "--no-detach", "--address=127.0.0.1",
            "--port=" + port, "--config=" + conf.resolve("rsyncd.conf")).redirectErrorStream(true)
            .redirectOutput(conf.resolve("rsyncd.log").toFile()).start();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline)
        {
            try
            {
                new java.net.Socket("127.0.0.1", port).close();
                return p;
            }
            catch (final IOException ex)
            {
                Thread.sleep(20);
            }
        }
        p.destroyForcibly();
        throw new FerryException(ErrorCode.TIMEOUT, "rsync --daemon did not listen on port " + port + ": " +
            Files.readString(conf.resolve("rsyncd.log")));
    }

    private static final class Timed
    {
        final double seconds;
        final String output;

        Timed(final double seconds, final String output)
        {
            this.seconds = seconds;
            this.output = output;
        }
    }

    /** Run a command to its end; its wall time, process start included. */
    private static Timed timed(final List<String> command) throws Exception
    {
        final long t0 = System.nanoTime();
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        final int rc = p.waitFor();
        final double s = (System.nanoTime() - t0) / 1e9;
        if (rc != 0)
        {
            throw new FerryException(ErrorCode.INTERNAL, String.join(" ", command) + " failed (" + rc + "): " + output);
        }
        return new Timed(s, output);
    }

    private static String lastLine(final String output)
    {
        final String[] lines = output.strip().split("\n");
        return lines[lines.length - 1];
    }

    private static final Pattern RSYNC_SENT = Pattern.compile("Total bytes sent: ([0-9,]+)");
    private static final Pattern RSYNC_RECEIVED = Pattern.compile("Total bytes received: ([0-9,]+)");

    /** From {@code rsync --stats} on the client: what it sent and received. */
    private static String rsyncWire(final String output)
    {
        final Matcher s = RSYNC_SENT.matcher(output);
        final Matcher r = RSYNC_RECEIVED.matcher(output);
        if (!s.find() || !r.find())
        {
            return "no --stats";
        }
        final long sent = Long.parseLong(s.group(1).replace(",", ""));
        final long received = Long.parseLong(r.group(1).replace(",", ""));
        return "wire " + Units.bytes(sent + received) + ": " + Units.bytes(received) + " down, " + Units.bytes(sent) + " up";
    }

    private static void shell(final String command) throws Exception
    {
        timed(List.of("bash", "-c", command));
    }

    private static String shellOutput(final String command) throws Exception
    {
        return timed(List.of("bash", "-c", command)).output;
    }

    private static void requireCommand(final String name, final String hint) throws Exception
    {
        if (new ProcessBuilder("bash", "-c", "command -v " + name).start().waitFor() != 0)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, name + " not found (" + hint + ")");
        }
    }
}
