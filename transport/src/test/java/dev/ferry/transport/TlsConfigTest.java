package dev.ferry.transport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loading TLS material: PEM certificates and PKCS#8 / PKCS#1 keys (RSA and EC), PKCS#12 keystores, and a clear
 * error naming the file for everything a person can get wrong; pins and fingerprints; and {@code requireTls}. Host names
 * are checked through real handshakes in {@link TlsConnectionTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsConfigTest
{
    @TempDir
    static Path pkiDir;

    @TempDir
    Path dir;

    private static TestPki.Identity ec;
    private static TestPki.Identity rsa;

    @BeforeAll
    static void certificates() throws IOException
    {
        final TestPki pki = new TestPki(pkiDir);
        ec = pki.selfSigned("ec", "EC", "ip:127.0.0.1");
        rsa = pki.selfSigned("rsa", "RSA", "dns:localhost");
    }

    @Test
    void loadsPemEcAndRsaAndPkcs12()
    {
        final TlsConfig server = TlsConfig.server(ec.cert, ec.key, rsa.cert);
        assertFalse(server.clientMode());
        assertTrue(server.requiresClientCertificate());
        assertTrue(server.presentsCertificate());
        assertTrue(server.description().contains("CN=ec") && server.description().contains("client certificates required"),
            server.description());

        final TlsConfig client = TlsConfig.client(ec.cert, rsa.cert, rsa.key);
        assertTrue(client.clientMode());
        assertTrue(client.presentsCertificate());
        assertFalse(TlsConfig.client(ec.cert, null, null).presentsCertificate());

        final TlsConfig p12 = TlsConfig.serverPkcs12(rsa.p12, TestPki.PASSWORD.toCharArray(), null);
        assertFalse(p12.requiresClientCertificate());
        assertTrue(p12.description().contains("CN=rsa"), p12.description());
        final FerryException wrongPassword = assertThrows(FerryException.class,
            () -> TlsConfig.serverPkcs12(rsa.p12, "wrong".toCharArray(), null));
        assertEquals(ErrorCode.CONFIG_MISMATCH, wrongPassword.code(), wrongPassword.getMessage());
        assertTrue(wrongPassword.getMessage().contains(rsa.p12.toString()), wrongPassword.getMessage());
    }

    @Test
    void acceptsATraditionalRsaKey() throws IOException
    {
        final byte[] pkcs8 = PemFiles.blocks(Files.readString(rsa.key, StandardCharsets.US_ASCII), "PRIVATE KEY").get(0);
        final Path pkcs1 = Files.writeString(dir.resolve("rsa.pkcs1.pem"), TestPki.pem("RSA PRIVATE KEY", unwrapPkcs8(pkcs8)));
        final TlsConfig c = TlsConfig.server(rsa.cert, pkcs1, null);
        assertFalse(c.clientMode());
    }

    @Test
    void namesTheFileForEveryUnusableInput() throws IOException
    {
        final FerryException mismatch = assertThrows(FerryException.class, () -> TlsConfig.server(ec.cert, rsa.key, null));
        assertEquals(ErrorCode.CONFIG_MISMATCH, mismatch.code());
        assertTrue(mismatch.getMessage().contains(rsa.key.toString()) && mismatch.getMessage().contains(ec.cert.toString()),
            mismatch.getMessage());

        final FerryException otherEcKey = assertThrows(FerryException.class,
            () -> TlsConfig.server(ec.cert, new TestPki(dir).selfSigned("ec2", "EC", null).key, null));
        assertTrue(otherEcKey.getMessage().contains("does not belong"), otherEcKey.getMessage());

        final Path text = Files.writeString(dir.resolve("notes.txt"), "hello\n");
        final FerryException noCert = assertThrows(FerryException.class, () -> TlsConfig.client(text, null, null));
        assertEquals(ErrorCode.CONFIG_MISMATCH, noCert.code());
        assertTrue(noCert.getMessage().contains("notes.txt") && noCert.getMessage().contains("BEGIN CERTIFICATE"),
            noCert.getMessage());

        final FerryException missing = assertThrows(FerryException.class,
            () -> TlsConfig.server(dir.resolve("absent.pem"), ec.key, null));
        assertEquals(ErrorCode.IO_ERROR, missing.code());
        assertTrue(missing.getMessage().contains("absent.pem"), missing.getMessage());

        final Path encrypted = Files.writeString(dir.resolve("enc.pem"),
            TestPki.pem("ENCRYPTED PRIVATE KEY", new byte[] { 1, 2, 3 }));
        final FerryException enc = assertThrows(FerryException.class, () -> TlsConfig.server(ec.cert, encrypted, null));
        assertTrue(enc.getMessage().contains("encrypted") && enc.getMessage().contains("openssl pkcs8"), enc.getMessage());

        final Path sec1 = Files.writeString(dir.resolve("sec1.pem"), TestPki.pem("EC PRIVATE KEY", new byte[] { 1, 2, 3 }));
        final FerryException ecKey = assertThrows(FerryException.class, () -> TlsConfig.server(ec.cert, sec1, null));
        assertTrue(ecKey.getMessage().contains("SEC1"), ecKey.getMessage());

        final Path garbage = Files.writeString(dir.resolve("garbage.pem"), TestPki.pem("PRIVATE KEY", new byte[] { 1, 2, 3 }));
        final FerryException bad = assertThrows(FerryException.class, () -> TlsConfig.server(ec.cert, garbage, null));
        assertTrue(bad.getMessage().contains("garbage.pem"), bad.getMessage());

        final FerryException noCa = assertThrows(FerryException.class, () -> TlsConfig.client(null, null, null));
        assertTrue(noCa.getMessage().contains("CA file"), noCa.getMessage());
        final FerryException half = assertThrows(FerryException.class, () -> TlsConfig.client(ec.cert, rsa.cert, null));
        assertTrue(half.getMessage().contains("private key"), half.getMessage());
        for (final FerryException ex : List.of(noCa, half))
        {
            assertFalse(ex.getMessage().contains("--"), "the transport names no command-line flag: " + ex.getMessage());
        }
    }

    @Test
    void requireTlsWithoutConfigFailsInConclude()
    {
        final FerryException ex = assertThrows(FerryException.class, () -> new TransportSettings().requireTls(true).conclude());
        assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code());
        assertTrue(ex.getMessage().contains("TLS is required"), ex.getMessage());
        assertFalse(ex.getMessage().contains("--"), "the transport names no command-line flag: " + ex.getMessage());
        new TransportSettings().requireTls(true).tls(TlsConfig.client(ec.cert, null, null)).conclude();
        new TransportSettings().requireTls(false).conclude();
    }

    @Test
    void pinsAreSha256FingerprintsWithOrWithoutColons()
    {
        final String hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        final byte[] plain = TlsConfig.parsePin(hex);
        assertEquals(32, plain.length);
        assertEquals((byte)0xFF, plain[31]);
        final StringBuilder colons = new StringBuilder();
        for (int i = 0; i < hex.length(); i += 2)
        {
            colons.append(i == 0 ? "" : ":").append(hex, i, i + 2);
        }
        assertTrue(Arrays.equals(plain, TlsConfig.parsePin(colons.toString())));
        for (final String bad : new String[] { "", "abc", hex + "00", hex.substring(2) + "zz" })
        {
            final FerryException ex = assertThrows(FerryException.class, () -> TlsConfig.parsePin(bad));
            assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code());
            assertTrue(ex.getMessage().contains("SHA-256"), ex.getMessage());
        }
        final TlsConfig pinned = TlsConfig.client(ec.cert, null, null, List.of(hex));
        assertTrue(pinned.description().contains("1 pinned"), pinned.description());
    }

    @Test
    void fingerprintIsTheSha256OfTheDerCertificate() throws Exception
    {
        final java.security.cert.X509Certificate cert = PemFiles.readCertificates(ec.cert, "test")[0];
        final byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
        assertEquals(PeerIdentityTrustManager.hex(digest), PeerIdentityTrustManager.fingerprint(cert));
        assertEquals(64, PeerIdentityTrustManager.fingerprint(cert).length());
        assertEquals(List.of("ip:127.0.0.1"), PeerIdentityTrustManager.hostNames(cert));
        assertEquals(List.of("dns:localhost"),
            PeerIdentityTrustManager.hostNames(PemFiles.readCertificates(rsa.cert, "test")[0]));
    }

    /**
     * The PKCS#1 key inside a PKCS#8 RSA key: SEQUENCE { INTEGER, AlgorithmIdentifier, OCTET STRING pkcs1 }.
     */
    private static byte[] unwrapPkcs8(final byte[] der)
    {
        int at = headerLength(der, 0);          // into the outer SEQUENCE
        at += tlvLength(der, at);               // skip version
        at += tlvLength(der, at);               // skip the algorithm identifier
        final int valueAt = at + headerLength(der, at);
        return Arrays.copyOfRange(der, valueAt, at + tlvLength(der, at));
    }

    private static int headerLength(final byte[] der, final int at)
    {
        final int first = der[at + 1] & 0xFF;
        return first < 0x80 ? 2 : 2 + (first & 0x7F);
    }

    private static int tlvLength(final byte[] der, final int at)
    {
        final int first = der[at + 1] & 0xFF;
        if (first < 0x80)
        {
            return 2 + first;
        }
        int n = 0;
        for (int i = 0; i < (first & 0x7F); i++)
        {
            n = (n << 8) | (der[at + 2 + i] & 0xFF);
        }
        return 2 + (first & 0x7F) + n;
    }
}
