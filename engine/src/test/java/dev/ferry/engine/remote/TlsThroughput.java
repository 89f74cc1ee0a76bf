package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.transport.TestPki;
import dev.ferry.transport.TlsConfig;
import dev.ferry.transport.TransportSettings;

/**
 * Clear text against TLS in the same run: two donors on loopback serve the same tree, one in clear text (sendfile)
 * and one over TLS 1.3; clones alternate between them, each into a fresh directory, with the source re-read and dirty
 * pages written back (untimed) before each run. Prints every run, the medians and the TLS/clear ratio. Not a JUnit
 * test: run it by hand (or call {@link #compare}) on a quiet machine.
 * <pre>
 * java --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -cp engine/target/ferry.jar:engine/target/test-classes \
 *     dev.ferry.engine.remote.TlsThroughput SRC_DIR [RUNS=3] [THREADS=2]
 * </pre>
 * The certificate is made with keytool in a temporary directory, deleted at the end, as are the clones.
 */
public final class TlsThroughput
{
    private static final com.sun.management.OperatingSystemMXBean CPU =
        (com.sun.management.OperatingSystemMXBean)java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** Untimed clones of each kind first: the JIT needs a few GB of TLS to compile the AES-GCM paths fully. */
    private static final int WARM_UP_RUNS = 2;

    private TlsThroughput()
    {
    }

    /**
     * Medians of one comparison, in bytes per second.
     */
    public static final class Result
    {
        public final double plainMedian;
        public final double tlsMedian;
        public final double[] plain;
        public final double[] tls;

        Result(final double[] plain, final double[] tls)
        {
            this.plain = plain;
            this.tls = tls;
            this.plainMedian = median(plain);
            this.tlsMedian = median(tls);
        }

        public double ratio()
        {
            return tlsMedian / plainMedian;
        }
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length < 1)
        {
            System.err.println("usage: TlsThroughput SRC_DIR [RUNS=3] [THREADS=2]");
            System.exit(2);
        }
        final Result r = compare(Path.of(args[0]), args.length > 1 ? Integer.parseInt(args[1]) : 3,
            args.length > 2 ? Integer.parseInt(args[2]) : 2);
        System.out.printf(Locale.ROOT, "plain runs MB/s: %s%n", mb(r.plain));
        System.out.printf(Locale.ROOT, "tls   runs MB/s: %s%n", mb(r.tls));
        System.out.printf(Locale.ROOT, "median plain %.0f MB/s, tls %.0f MB/s, tls/plain %.2f%n",
            r.plainMedian / 1e6, r.tlsMedian / 1e6, r.ratio());
    }

    /**
     * Alternate {@code runs} clear-text and {@code runs} TLS clones of {@code src} with {@code threads} connections
     * (after {@link #WARM_UP_RUNS} untimed clones of each), CRC32C on, fsync off.
     */
    public static Result compare(final Path src, final int runs, final int threads) throws IOException
    {
        final Path work = Files.createTempDirectory("ferry-tls-bench");
        try
        {
            final TestPki.Identity id = new TestPki(work).selfSigned("bench-donor", "EC", "ip:127.0.0.1");
            final DonorService.Options plainOptions = new DonorService.Options().settings(new CloneSettings());
            final DonorService.Options tlsOptions = new DonorService.Options().settings(new CloneSettings())
                .transport(new TransportSettings().tls(TlsConfig.server(id.cert, id.key, null)).requireTls(true));
            final InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
            try (DonorService plain = new DonorService(src, any, plainOptions).start();
                DonorService tls = new DonorService(src, any, tlsOptions).start())
            {
                final TlsConfig clientTls = TlsConfig.client(id.cert, null, null);
                final double[] p = new double[runs];
                final double[] t = new double[runs];
                for (int i = 0; i < WARM_UP_RUNS; i++)
                {
                    run(plain.address(), work, threads, null, src);
                    run(tls.address(), work, threads, clientTls, src);
                }
                for (int i = 0; i < runs; i++)
                {
                    p[i] = run(plain.address(), work, threads, null, src);
                    t[i] = run(tls.address(), work, threads, clientTls, src);
                }
                return new Result(p, t);
            }
        }
        finally
        {
            delete(work);
        }
    }

    /**
     * @return bytes per second of one clone into a fresh directory under {@code work}.
     */
    private static double run(
        final InetSocketAddress donor, final Path work, final int threads, final TlsConfig tls, final Path src)
        throws IOException
    {
        final Path dst = work.resolve("dst");
        delete(dst);
        prepare(src);
        final TransportSettings transport = new TransportSettings();
        if (tls != null)
        {
            transport.tls(tls).requireTls(true);
        }
        final long cpu0 = CPU.getProcessCpuTime();
        final long start = System.nanoTime();
        final CloneResult r = new CloneClient(donor, dst, new CloneClient.Options().threads(threads)
            .settings(new CloneSettings().sync(false)).transport(transport)).run();
        final long nanos = System.nanoTime() - start;
        final long cpu = CPU.getProcessCpuTime() - cpu0;
        delete(dst);
        System.out.printf(Locale.ROOT, "  %s: %.0f MB/s, %.2f CPU seconds per GB (donor and client)%n",
            tls == null ? "plain" : "tls  ", r.dataBytes() / (nanos / 1e9) / 1e6, cpu / 1e9 / (r.dataBytes() / 1e9));
        return r.dataBytes() / (nanos / 1e9);
    }

    /**
     * Untimed: write back dirty pages (of the previous clone) and re-read the source so both modes start alike.
     */
    private static void prepare(final Path src) throws IOException
    {
        try
        {
            new ProcessBuilder("sync").inheritIO().start().waitFor(120, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        final byte[] buffer = new byte[1 << 20];
        try (Stream<Path> s = Files.walk(src))
        {
            for (final Path f : s.filter(x -> Files.isRegularFile(x, LinkOption.NOFOLLOW_LINKS)).toList())
            {
                try (InputStream in = Files.newInputStream(f))
                {
                    while (in.read(buffer) > 0)
                    {
                        // read through the page cache
                    }
                }
            }
        }
    }

    private static void delete(final Path root)
    {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        try (Stream<Path> s = Files.walk(root))
        {
            for (final Path p : s.sorted(Comparator.reverseOrder()).toList())
            {
                Files.delete(p);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static double median(final double[] v)
    {
        final double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static List<Long> mb(final double[] v)
    {
        return Arrays.stream(v).mapToObj(x -> Math.round(x / 1e6)).toList();
    }
}
