package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.TreeComparator;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.transport.TestPki;
import dev.ferry.transport.TlsConfig;
import dev.ferry.transport.TransportSettings;

import static dev.ferry.engine.remote.RemoteTestSupport.BLOCK;
import static dev.ferry.engine.remote.RemoteTestSupport.CHUNK;
import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Remote clones over TLS 1.3: every connection (master, workers, restarts) is encrypted, the copy is identical, and
 * every way TLS can be misconfigured fails within a bounded time with a code and a message a person can act on:
 * an untrusted donor, a missing client certificate under mutual TLS, a clear-text client at a TLS donor, a TLS client
 * at a clear-text donor, and {@code requireTls} without a TLS config. Certificates are made at test time by
 * {@link TestPki} (keytool); donors bind 127.0.0.1 port 0.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsCloneTest
{
    private static final Duration BOUND = Duration.ofSeconds(10);

    @TempDir
    static Path pkiDir;

    @TempDir
    Path base;

    private static TestPki.Identity donorId;
    private static TestPki.Identity clientId;
    private static TestPki.Identity stranger;
    private static TestPki.Identity noHost;

    @BeforeAll
    static void certificates() throws IOException
    {
        final TestPki pki = new TestPki(pkiDir);
        donorId = pki.selfSigned("donor", "EC", "ip:127.0.0.1,dns:localhost");
        clientId = pki.selfSigned("client", "RSA", null);
        stranger = pki.selfSigned("stranger", "EC", "ip:127.0.0.1");
        noHost = pki.selfSigned("no-host", "EC", null);
    }

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    private static DonorService.Options donorOptions(final TransportSettings transport)
    {
        return new DonorService.Options().settings(new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK))
            .transport(transport);
    }

    private static TransportSettings tlsDonor(final Path clientCa)
    {
        return new TransportSettings().tls(TlsConfig.server(donorId.cert, donorId.key, clientCa)).requireTls(true);
    }

    private static TransportSettings tlsClient(final Path trustedCa, final TestPki.Identity own)
    {
        return new TransportSettings().readTimeoutMs(3_000).heartbeatMs(200).connectTimeoutMs(3_000)
            .tls(TlsConfig.client(trustedCa, own == null ? null : own.cert, own == null ? null : own.key))
            .requireTls(true);
    }

    private static CloneClient.Options client(final int threads, final TransportSettings transport)
    {
        return new CloneClient.Options().threads(threads).settings(new CloneSettings().sync(false)).transport(transport);
    }

    @ParameterizedTest(name = "threads={0}")
    @ValueSource(ints = { 1, 4 })
    void clonesEdgeCaseTreeExactlyOverTls(final int threads) throws IOException
    {
        final Path src = base.resolve("src");
        final Path dst = base.resolve("dst");
        final RemoteTestSupport.Expected expected = RemoteTestSupport.buildEdgeCaseTree(src, true);
        final long expectedBytes = RemoteTestSupport.regularBytes(src);
        assertTrue(expectedBytes > 3_000_000, "the tree must carry a few MB, has " + expectedBytes);

        final CloneResult result;
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(tlsDonor(null)).loops(2)).start())
        {
            result = new CloneClient(donor.address(), dst, client(threads, tlsClient(donorId.cert, null))).run();
            assertEquals(expectedBytes, donor.bytesSent(), "donor data bytes sent");
        }

        assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        assertFalse(FileTreeRecipient.isIncomplete(dst));
        RemoteTestSupport.assertMatches(expected, dst);
        assertEquals(expectedBytes, result.dataBytes());
        assertTrue(result.networkBytes() > result.dataBytes(), "TLS records add bytes on the wire: " + result);
        assertEquals(0L, result.restarts());
    }

    @Test
    void mutualTlsServesAClientWithACertificateAndRefusesOneWithout() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(tlsDonor(clientId.cert))).start())
        {
            final Path ok = base.resolve("ok");
            new CloneClient(donor.address(), ok, client(3, tlsClient(donorId.cert, clientId))).run();
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, ok));

            final Path refused = base.resolve("refused");
            final FerryException ex = assertFailsWithin(donor.address(), refused, tlsClient(donorId.cert, null));
            assertEquals(ErrorCode.AUTH_FAILED, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("client certificate") && ex.getMessage().contains("--tls-cert"),
                ex.getMessage());

            final FerryException unknown = assertFailsWithin(donor.address(), base.resolve("unknown"),
                tlsClient(donorId.cert, stranger));
            assertEquals(ErrorCode.AUTH_FAILED, unknown.code(), unknown.getMessage());
        }
    }

    @Test
    void clientThatDoesNotTrustTheDonorFailsClearly() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(tlsDonor(null))).start())
        {
            final FerryException ex = assertFailsWithin(donor.address(), base.resolve("dst"),
                tlsClient(stranger.cert, null));
            assertEquals(ErrorCode.AUTH_FAILED, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("certificate") && ex.getMessage().contains("--tls-ca"), ex.getMessage());
        }
    }

    @ParameterizedTest(name = "requireTls={0}")
    @ValueSource(booleans = { true, false })
    void tlsDonorRefusesAClearTextClientSayingWhatToDo(final boolean requireTls) throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final TransportSettings donorTransport = tlsDonor(null).requireTls(requireTls);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(donorTransport)).start())
        {
            final FerryException ex = assertFailsWithin(donor.address(), base.resolve("dst"),
                new TransportSettings().readTimeoutMs(3_000).heartbeatMs(200));
            assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("requires TLS") && ex.getMessage().contains("--tls-ca"), ex.getMessage());

            // the donor still serves a TLS client
            final Path ok = base.resolve("ok");
            new CloneClient(donor.address(), ok, client(2, tlsClient(donorId.cert, null))).run();
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, ok));
        }
    }

    @Test
    void tlsClientAtAClearTextDonorFailsClearly() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(new TransportSettings())).start())
        {
            final FerryException ex = assertFailsWithin(donor.address(), base.resolve("dst"),
                tlsClient(donorId.cert, null));
            assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("clear text") && ex.getMessage().contains("--tls-cert"), ex.getMessage());
        }
    }

    @Test
    void requireTlsWithoutATlsConfigIsRefusedBeforeAnyConnection() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final FerryException donorSide = assertThrows(FerryException.class, () -> new DonorService(src,
            loopbackAnyPort(), donorOptions(new TransportSettings().requireTls(true))).start());
        assertEquals(ErrorCode.CONFIG_MISMATCH, donorSide.code());
        assertTrue(donorSide.getMessage().contains("--require-tls"), donorSide.getMessage());

        final FerryException clientSide = assertThrows(FerryException.class, () -> new CloneClient(
            new InetSocketAddress("127.0.0.1", 9), base.resolve("dst"),
            client(1, new TransportSettings().requireTls(true))).run());
        assertEquals(ErrorCode.CONFIG_MISMATCH, clientSide.code());
        assertTrue(clientSide.getMessage().contains("--tls-ca"), clientSide.getMessage());

        final FerryException wrongMode = assertThrows(FerryException.class, () -> new DonorService(src,
            loopbackAnyPort(), donorOptions(new TransportSettings().tls(TlsConfig.client(donorId.cert, null, null))))
            .start());
        assertEquals(ErrorCode.CONFIG_MISMATCH, wrongMode.code());
    }

    @Test
    void cutAndCorruptedTlsConnectionsAreRestarted() throws Exception
    {
        final long chunk = 1024 * 1024;
        final Path src = base.resolve("src");
        new DatasetGenerator(5).mixed(src, 3, 9 * chunk + 12345, 200);
        final Path dst = base.resolve("dst");
        final DonorService.Options options = new DonorService.Options()
            .settings(new CloneSettings().blockSize(64 * 1024).chunkSize(chunk))
            .transport(tlsDonor(null).readTimeoutMs(1500).heartbeatMs(200)).restartWindowMs(20_000);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), options).start();
            FaultProxy proxy = new FaultProxy(donor.address()))
        {
            proxy.arm(FaultProxy.Kind.CORRUPT, 3 * chunk + 4321);
            final CloneClient clone = new CloneClient(proxy.address(), dst, client(2, tlsClient(donorId.cert, null))
                .poolBuffers(8).restartWindowMs(20_000));
            final Thread cutter = new Thread(() ->
            {
                try
                {
                    while (proxy.armed())
                    {
                        Thread.sleep(2);
                    }
                    proxy.arm(FaultProxy.Kind.RESET, 4 * chunk);
                }
                catch (final InterruptedException ignore)
                {
                    // test over
                }
            });
            cutter.setDaemon(true);
            cutter.start();
            final CloneResult result = clone.run();
            cutter.interrupt();
            assertTrue(proxy.faultsFired() >= 1, "no fault fired");
            assertTrue(result.restarts() >= 1, "a TLS record that fails its check is a network failure: " + result);
            assertEquals(0, clone.progress().corruptBlocks(), "TLS catches the flipped byte before CRC32C does");
            assertEquals(TestFiles.expectedCloneDifferences(src), TreeComparator.compare(src, dst));
        }
    }

    @Test
    void donorCertificateThatNamesNoHostIsRefusedUnlessPinned() throws Exception
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final TransportSettings donorTransport = new TransportSettings()
            .tls(TlsConfig.server(noHost.cert, noHost.key, null)).requireTls(true);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(donorTransport)).start())
        {
            final FerryException ex = assertFailsWithin(donor.address(), base.resolve("refused"),
                tlsClient(noHost.cert, null));
            assertEquals(ErrorCode.AUTH_FAILED, ex.code(), ex.getMessage());
            final String pin = sha256(noHost.cert);
            assertTrue(ex.getMessage().contains("names no host") && ex.getMessage().contains(pin) &&
                ex.getMessage().contains("--tls-pin"), ex.getMessage());

            final Path ok = base.resolve("ok");
            new CloneClient(donor.address(), ok, client(2, tlsClient(noHost.cert, null).tls(
                TlsConfig.client(noHost.cert, null, null, List.of(pin))))).run();
            assertEquals(List.of(), TreeComparator.compare(src, ok));

            final FerryException wrongPin = assertFailsWithin(donor.address(), base.resolve("wrong-pin"),
                tlsClient(noHost.cert, null).tls(TlsConfig.client(noHost.cert, null, null, List.of(sha256(donorId.cert)))));
            assertEquals(ErrorCode.AUTH_FAILED, wrongPin.code(), wrongPin.getMessage());
            assertTrue(wrongPin.getMessage().contains("--tls-pin"), wrongPin.getMessage());
        }
    }

    @Test
    void donorCertificateForAnotherHostIsRefusedNamingItsHosts() throws IOException
    {
        final Path src = base.resolve("src");
        RemoteTestSupport.smallTree(src);
        final TransportSettings donorTransport = new TransportSettings()
            .tls(TlsConfig.server(stranger.cert, stranger.key, null)).requireTls(true);
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), donorOptions(donorTransport)).start())
        {
            // "localhost" without a lookup: the certificate names only ip:127.0.0.1
            final InetSocketAddress byName = new InetSocketAddress(java.net.InetAddress.getByAddress("localhost",
                donor.address().getAddress().getAddress()), donor.address().getPort());
            final FerryException ex = assertFailsWithin(byName, base.resolve("dst"), tlsClient(stranger.cert, null));
            assertEquals(ErrorCode.AUTH_FAILED, ex.code(), ex.getMessage());
            assertTrue(ex.getMessage().contains("ip:127.0.0.1") && ex.getMessage().contains("'localhost'") &&
                ex.getMessage().contains("subjectAltName"), ex.getMessage());

            final Path ok = base.resolve("ok");
            new CloneClient(donor.address(), ok, client(1, tlsClient(stranger.cert, null))).run();
            assertEquals(List.of(), TreeComparator.compare(src, ok));
        }
    }

    /**
     * The fingerprint {@code openssl x509 -noout -fingerprint -sha256} prints, without the colons.
     */
    private static String sha256(final Path pem) throws Exception
    {
        try (java.io.InputStream in = Files.newInputStream(pem))
        {
            final byte[] der = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in)
                .getEncoded();
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(der));
        }
    }

    private static FerryException assertFailsWithin(
        final InetSocketAddress address, final Path dst, final TransportSettings transport)
    {
        final FerryException ex = assertTimeoutPreemptively(BOUND, () -> assertThrows(FerryException.class,
            () -> new CloneClient(address, dst, client(2, transport).maxRestarts(0)).run()));
        assertTrue(ex.getMessage().contains(String.valueOf(address.getPort())), "the message names the donor: " +
            ex.getMessage());
        assertFalse(ErrorCode.hint(ex.code()).isEmpty());
        assertFalse(Files.exists(dst, LinkOption.NOFOLLOW_LINKS) && !FileTreeRecipient.isIncomplete(dst),
            "a failed clone leaves no finished-looking target");
        return ex;
    }
}
