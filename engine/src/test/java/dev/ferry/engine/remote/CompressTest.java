package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.transport.TransportSettings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry clone --compress} end to end on loopback: text shrinks to less than half on the wire, random data
 * travels as it is (no expansion beyond framing), compression is off unless asked for, and a clone cut mid-stream
 * restarts and completes identical with compression on.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CompressTest
{
    private static final int BLOCK = 256 * 1024;
    private static final long CHUNK = 1024 * 1024;

    @TempDir
    Path dir;

    /**
     * Text: three files of several blocks (sent as file regions without compression) and 150 small ones (read into
     * a buffer), so both donor paths compress.
     */
    private Path textTree() throws IOException
    {
        final Path src = dir.resolve("text");
        Files.createDirectories(src.resolve("docs"));
        final Random r = new Random(3);
        for (int i = 0; i < 3; i++)
        {
            Files.write(src.resolve("big-" + i + ".txt"), text(r, 3 * 1024 * 1024 + 1234 * i));
        }
        for (int i = 0; i < 150; i++)
        {
            Files.write(src.resolve("docs/page-" + i + ".html"), text(r, 1000 + r.nextInt(40_000)));
        }
        return src;
    }

    private static byte[] text(final Random r, final int length)
    {
        final String[] words = { "public", "static", "final", "class", "return", "the", "of", "a", "to", "import",
            "java.util", "String", "int", "long", "void", "if", "else", "for", "while", "new", "throws", "IOException",
            "<p>", "</p>", "{@code", "}", "/**", " */", "buffer", "offset", "length" };
        final StringBuilder s = new StringBuilder(length + 32);
        while (s.length() < length)
        {
            s.append(words[r.nextInt(words.length)]).append(r.nextInt(10) == 0 ? "\n    " : " ");
            if (r.nextInt(50) == 0)
            {
                s.append(r.nextInt(1_000_000)); // some entropy, as identifiers and numbers give real text
            }
        }
        return s.substring(0, length).getBytes(StandardCharsets.US_ASCII);
    }

    private DonorService donor(final Path src)
    {
        return new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .settings(new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK))
            .transport(new TransportSettings().readTimeoutMs(1500).heartbeatMs(200))
            .restartWindowMs(20_000)).start();
    }

    private static CloneClient.Options options(final int level)
    {
        return new CloneClient.Options().threads(2).poolBuffers(8).compress(level)
            .transport(new TransportSettings().readTimeoutMs(1500).heartbeatMs(200).connectTimeoutMs(2000))
            .restartWindowMs(20_000);
    }

    @Test
    void textShrinksToLessThanHalfOnTheWire() throws Exception
    {
        final Path src = textTree();
        final Path dst = dir.resolve("dst");
        try (DonorService donor = donor(src))
        {
            final CloneClient client = new CloneClient(donor.address(), dst, options(3));
            final CloneResult r = client.run();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertEquals(RemoteTestSupport.regularBytes(src), r.dataBytes(), "data bytes count the pieces, not bodies");
            final long compressed = client.progress().compressedDataBytes();
            assertTrue(compressed > 0.95 * r.dataBytes(), "nearly every block travelled compressed: " + compressed +
                " of " + r.dataBytes());
            assertTrue(r.networkBytes() < r.dataBytes() / 2, "wire " + r.networkBytes() + " for data " + r.dataBytes());
            assertTrue(client.progress().compressedWireBytes() < compressed / 2);
            assertTrue(donor.bytesSent() < r.dataBytes() / 2, "the donor sent " + donor.bytesSent());
        }
    }

    @Test
    void randomDataTravelsAsItIsAndCompressionIsOffByDefault() throws Exception
    {
        final Path src = dir.resolve("random");
        new DatasetGenerator(17).mixed(src, 3, 3 * CHUNK + 4321, 100);
        final Path plain = dir.resolve("plain");
        final Path packed = dir.resolve("packed");
        final CloneResult without;
        final CloneResult with;
        final CloneClient withClient;
        try (DonorService donor = donor(src))
        {
            final CloneClient client = new CloneClient(donor.address(), plain, options(0));
            without = client.run();
            assertEquals(0, client.progress().compressedDataBytes(), "off unless asked for");
        }
        try (DonorService donor = donor(src))
        {
            withClient = new CloneClient(donor.address(), packed, options(3));
            with = withClient.run();
        }
        assertEquals(List.of(), TreeComparator.compare(src, plain));
        assertEquals(List.of(), TreeComparator.compare(src, packed));
        assertEquals(without.dataBytes(), with.dataBytes());
        assertEquals(0, withClient.progress().compressedDataBytes(), "random blocks do not shrink: sent as they are");
        // the same frames either way; heartbeats may differ by a few bytes
        assertTrue(with.networkBytes() <= without.networkBytes() + 4096, with.networkBytes() + " with --compress, " +
            without.networkBytes() + " without");
        assertTrue(with.networkBytes() < with.dataBytes() * 1.01, "framing only: " + with.networkBytes() + " for " +
            with.dataBytes());
    }

    @Test
    void aCloneCutMidStreamRestartsAndCompletesWithCompression() throws Exception
    {
        final Path src = textTree();
        final Path dst = dir.resolve("dst");
        try (DonorService donor = donor(src); FaultProxy proxy = new FaultProxy(donor.address()))
        {
            final CloneClient client = new CloneClient(proxy.address(), dst, options(3));
            proxy.arm(FaultProxy.Kind.RESET, 600_000); // compressed bytes: about a third into the clone
            final Thread second = new Thread(() ->
            {
                try
                {
                    while (proxy.armed())
                    {
                        Thread.sleep(2);
                    }
                    Thread.sleep(50);
                    proxy.arm(FaultProxy.Kind.CORRUPT, 200_000); // a flipped byte in a compressed body
                }
                catch (final InterruptedException ignore)
                {
                    // test over
                }
            });
            second.setDaemon(true);
            second.start();
            final CloneResult r = client.run();
            second.interrupt();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertTrue(proxy.faultsFired() >= 1, "no fault fired");
            assertTrue(r.restarts() >= 1, "the cut must restart the clone");
            assertTrue(client.progress().compressedDataBytes() > 0);
            assertTrue(client.progress().corruptBlocks() <= 1);
        }
    }
}
