package dev.ferry.transport;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * Reads the PEM files a {@link TlsConfig} is made of: certificates ({@code -----BEGIN CERTIFICATE-----} blocks, a
 * chain leaf first, as {@code openssl req -x509} writes them; text outside the blocks is ignored) and private keys
 * (unencrypted PKCS#8 {@code -----BEGIN PRIVATE KEY-----}, or PKCS#1 {@code -----BEGIN RSA PRIVATE KEY-----}; RSA, EC
 * and EdDSA). Every problem is a {@link FerryException} naming the file: {@link ErrorCode#CONFIG_MISMATCH} for an
 * unusable file, {@link ErrorCode#IO_ERROR} for one that cannot be read.
 * <p>
 * Stateless; any thread.
 */
final class PemFiles
{
    private static final String CERTIFICATE_BLOCK = "CERTIFICATE";
    private static final String PKCS8_BLOCK = "PRIVATE KEY";
    private static final String PKCS1_RSA_BLOCK = "RSA PRIVATE KEY";
    /** DER of AlgorithmIdentifier { rsaEncryption, NULL }, to wrap a PKCS#1 RSA key into PKCS#8. */
    private static final byte[] RSA_ALGORITHM_ID = {
        0x30, 0x0D, 0x06, 0x09, 0x2A, (byte)0x86, 0x48, (byte)0x86, (byte)0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00 };

    private PemFiles()
    {
    }

    static X509Certificate[] readCertificates(final Path file, final String what)
    {
        final List<byte[]> blocks = pemBlocks(file, what, CERTIFICATE_BLOCK);
        if (blocks.isEmpty())
        {
            throw bad(file, what, "holds no -----BEGIN CERTIFICATE----- block");
        }
        try
        {
            final CertificateFactory cf = CertificateFactory.getInstance("X.509");
            final X509Certificate[] out = new X509Certificate[blocks.size()];
            for (int i = 0; i < out.length; i++)
            {
                out[i] = (X509Certificate)cf.generateCertificate(new ByteArrayInputStream(blocks.get(i)));
            }
            return out;
        }
        catch (final CertificateException ex)
        {
            throw bad(file, what, "holds a certificate that cannot be parsed (" + ex.getMessage() + ")");
        }
    }

    static PrivateKey readPrivateKey(final Path file)
    {
        final String what = "TLS private key";
        final String text = readText(file, what);
        if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        {
            throw bad(file, what, "is encrypted; write it unencrypted with `openssl pkcs8 -topk8 -nocrypt -in KEY`");
        }
        if (text.contains("-----BEGIN EC PRIVATE KEY-----"))
        {
            throw bad(file, what, "is in the SEC1 format; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY`");
        }
        byte[] der;
        final List<byte[]> pkcs8 = blocks(text, PKCS8_BLOCK);
        if (pkcs8.size() == 1)
        {
            der = pkcs8.get(0);
        }
        else if (pkcs8.isEmpty() && blocks(text, PKCS1_RSA_BLOCK).size() == 1)
        {
            der = wrapPkcs1(blocks(text, PKCS1_RSA_BLOCK).get(0));
        }
        else
        {
            throw bad(file, what, "must hold exactly one -----BEGIN PRIVATE KEY----- (PKCS#8) or " +
                "-----BEGIN RSA PRIVATE KEY----- block");
        }
        final PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (final String algorithm : new String[] { "RSA", "EC", "EdDSA", "RSASSA-PSS" })
        {
            try
            {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            }
            catch (final GeneralSecurityException ignore)
            {
                // try the next algorithm
            }
        }
        throw bad(file, what, "is not an RSA, EC or EdDSA key this JVM can read");
    }

    /**
     * PKCS#8 PrivateKeyInfo ::= SEQUENCE { INTEGER 0, AlgorithmIdentifier rsaEncryption, OCTET STRING pkcs1 }.
     */
    private static byte[] wrapPkcs1(final byte[] pkcs1)
    {
        final byte[] octets = derTlv(0x04, pkcs1);
        final byte[] version = { 0x02, 0x01, 0x00 };
        final byte[] body = new byte[version.length + RSA_ALGORITHM_ID.length + octets.length];
        System.arraycopy(version, 0, body, 0, version.length);
        System.arraycopy(RSA_ALGORITHM_ID, 0, body, version.length, RSA_ALGORITHM_ID.length);
        System.arraycopy(octets, 0, body, version.length + RSA_ALGORITHM_ID.length, octets.length);
        return derTlv(0x30, body);
    }

    private static byte[] derTlv(final int tag, final byte[] value)
    {
        final int n = value.length;
        final int lengthBytes = n < 0x80 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : 3;
        final byte[] out = new byte[2 + lengthBytes + n];
        out[0] = (byte)tag;
        if (lengthBytes == 0)
        {
            out[1] = (byte)n;
        }
        else
        {
            out[1] = (byte)(0x80 | lengthBytes);
            for (int i = 0; i < lengthBytes; i++)
            {
                out[2 + i] = (byte)(n >>> (8 * (lengthBytes - 1 - i)));
            }
        }
        System.arraycopy(value, 0, out, 2 + lengthBytes, n);
        return out;
    }

    /**
     * Sign and verify a few bytes: a key that does not belong to the certificate fails here, naming both files,
     * rather than in every handshake.
     */
    static void checkKeyMatches(final PrivateKey key, final X509Certificate cert, final Path keyFile, final Path certFile)
    {
        final PublicKey pub = cert.getPublicKey();
        final String algorithm;
        switch (key.getAlgorithm())
        {
            case "RSA":
                algorithm = "SHA256withRSA";
                break;
            case "EC":
                algorithm = "SHA256withECDSA";
                break;
            case "RSASSA-PSS":
                algorithm = null;
                break;
            default:
                algorithm = key.getAlgorithm(); // EdDSA, Ed25519, Ed448
                break;
        }
        if (algorithm == null)
        {
            return;
        }
        try
        {
            final byte[] probe = "ferry key check".getBytes(StandardCharsets.US_ASCII);
            final Signature s = Signature.getInstance(algorithm);
            s.initSign(key);
            s.update(probe);
            final byte[] signature = s.sign();
            final Signature v = Signature.getInstance(algorithm);
            v.initVerify(pub);
            v.update(probe);
            if (v.verify(signature))
            {
                return;
            }
        }
        catch (final GeneralSecurityException ignore)
        {
            // a key of another type than the certificate's: reported below
        }
        throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the TLS private key " + keyFile + " does not belong to " +
            "the certificate " + certFile + " (" + cert.getSubjectX500Principal().getName() + ")");
    }

    private static List<byte[]> pemBlocks(final Path file, final String what, final String type)
    {
        return blocks(readText(file, what), type);
    }

    static String readText(final Path file, final String what)
    {
        try
        {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        }
        catch (final IOException ex)
        {
            throw unreadable(file, what, ex);
        }
    }

    /**
     * The decoded bodies of every {@code -----BEGIN type-----} ... {@code -----END type-----} block, in order.
     */
    static List<byte[]> blocks(final String text, final String type)
    {
        final String begin = "-----BEGIN " + type + "-----";
        final String end = "-----END " + type + "-----";
        final List<byte[]> out = new ArrayList<>();
        int from = 0;
        while (true)
        {
            final int b = text.indexOf(begin, from);
            if (b < 0)
            {
                return out.isEmpty() ? Collections.emptyList() : out;
            }
            final int e = text.indexOf(end, b + begin.length());
            if (e < 0)
            {
                return out;
            }
            try
            {
                out.add(Base64.getMimeDecoder().decode(text.substring(b + begin.length(), e)));
            }
            catch (final IllegalArgumentException ex)
            {
                // a damaged block: leave it out, the caller reports what is missing
            }
            from = e + end.length();
        }
    }

    static FerryException bad(final Path file, final String what, final String problem)
    {
        return new FerryException(ErrorCode.CONFIG_MISMATCH, what + " file " + file + " " + problem);
    }

    static FerryException unreadable(final Path file, final String what, final IOException ex)
    {
        return new FerryException(ErrorCode.IO_ERROR, "cannot read the " + what + " file " + file + ": " + ex, ex);
    }
}
