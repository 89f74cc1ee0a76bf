package dev.ferry.transport;

import java.net.Socket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A TLS client's trust manager: the JDK's PKIX trust manager does the work (chain to a trusted certificate,
 * signatures, validity dates, CA constraints, and, through the engine's {@code HTTPS} endpoint identification that
 * {@link TlsConfig} sets, the host check), and this class adds two rules the JDK does not have:
 * <ul>
 * <li>A server certificate that names no host (no DNS or IP subjectAltName) is refused, where the JDK would accept a
 * matching common name for a DNS host; such a certificate is accepted only when pinned.</li>
 * <li>With pins (SHA-256 fingerprints of the DER certificate), the server's certificate must be one of them; the pin
 * identifies the server, so no host check is made (the engine gets no endpoint identification).</li>
 * </ul>
 * Host mismatches and these refusals are {@link IdentityException}s with a {@link TlsFailure}, so the connection can
 * say exactly what failed. Immutable; called by the JDK on the handshaking thread (the connection's loop thread).
 */
final class PeerIdentityTrustManager extends X509ExtendedTrustManager
{
    /** subjectAltName GeneralName tags (RFC 5280 section 4.2.1.6). */
    private static final int SAN_DNS = 2;
    private static final int SAN_IP = 7;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /**
     * A certificate refused for its identity rather than its chain.
     */
    static final class IdentityException extends CertificateException
    {
        private static final long serialVersionUID = 1L;

        final TlsFailure failure;

        IdentityException(final TlsFailure failure, final String message, final Throwable cause)
        {
            super(message, cause);
            this.failure = failure;
        }
    }

    private final X509ExtendedTrustManager pkix;
    private final byte[][] pins;

    /**
     * @param pins SHA-256 fingerprints the server's certificate must match; empty to check the host instead.
     */
    PeerIdentityTrustManager(final X509ExtendedTrustManager pkix, final byte[][] pins)
    {
        this.pkix = pkix;
        this.pins = pins;
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
        throws CertificateException
    {
        if (pins.length > 0)
        {
            pkix.checkServerTrusted(chain, authType, engine);
            checkPinned(chain[0]);
            return;
        }
        final List<String> names = hostNames(chain[0]);
        if (names.isEmpty())
        {
            pkix.checkServerTrusted(chain, authType); // an untrusted chain is reported as such first
            throw new IdentityException(TlsFailure.NO_HOST_NAMED, "the server's certificate " + subject(chain[0]) +
                " names no host (it has no DNS or IP subjectAltName); its SHA-256 fingerprint is " +
                fingerprint(chain[0]), null);
        }
        try
        {
            pkix.checkServerTrusted(chain, authType, engine);
        }
        catch (final CertificateException ex)
        {
            // the chain, or the JDK's host check: the chain alone tells which
            pkix.checkServerTrusted(chain, authType);
            if (!isHostCheck(ex))
            {
                throw ex;
            }
            throw new IdentityException(TlsFailure.HOST_MISMATCH, "the server's certificate " + subject(chain[0]) +
                " is for " + names + ", not for '" + engine.getPeerHost() + "'", ex);
        }
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final Socket socket)
        throws CertificateException
    {
        pkix.checkServerTrusted(chain, authType, socket);
        checkIdentityWithoutHost(chain[0]);
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
    {
        pkix.checkServerTrusted(chain, authType);
        checkIdentityWithoutHost(chain[0]);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
        throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final Socket socket)
        throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers()
    {
        return pkix.getAcceptedIssuers();
    }

    /**
     * The JDK's host check (sun.security.util.HostnameChecker) says "No subject alternative ... matching" or "No name
     * matching".
     */
    private static boolean isHostCheck(final CertificateException ex)
    {
        final String m = String.valueOf(ex.getMessage());
        return m.contains("subject alternative") || m.contains("name matching");
    }

    /**
     * Outside an engine the host is unknown: a pin, or at least a host name, is still required.
     */
    private void checkIdentityWithoutHost(final X509Certificate leaf) throws CertificateException
    {
        if (pins.length > 0)
        {
            checkPinned(leaf);
        }
        else if (hostNames(leaf).isEmpty())
        {
            throw new IdentityException(TlsFailure.NO_HOST_NAMED, "the server's certificate " + subject(leaf) +
                " names no host", null);
        }
    }

    private void checkPinned(final X509Certificate leaf) throws CertificateException
    {
        final byte[] digest = sha256(leaf);
        for (final byte[] pin : pins)
        {
            if (MessageDigest.isEqual(pin, digest))
            {
                return;
            }
        }
        throw new IdentityException(TlsFailure.PIN_MISMATCH, "the server's certificate " + subject(leaf) +
            " (SHA-256 " + hex(digest) + ") matches none of the " + pins.length + " pinned fingerprint(s)", null);
    }

    /**
     * @return the DNS and IP subjectAltName entries, as {@code dns:NAME} and {@code ip:ADDRESS}.
     */
    static List<String> hostNames(final X509Certificate cert) throws CertificateParsingException
    {
        final Collection<List<?>> sans = cert.getSubjectAlternativeNames();
        final List<String> names = new ArrayList<>();
        if (sans != null)
        {
            for (final List<?> san : sans)
            {
                final int type = (Integer)san.get(0);
                if (type == SAN_DNS || type == SAN_IP)
                {
                    names.add((type == SAN_DNS ? "dns:" : "ip:") + san.get(1));
                }
            }
        }
        return names;
    }

    /**
     * @return the SHA-256 fingerprint of the certificate's DER encoding, in lowercase hex without separators.
     */
    static String fingerprint(final X509Certificate cert) throws CertificateException
    {
        return hex(sha256(cert));
    }

    private static byte[] sha256(final X509Certificate cert) throws CertificateEncodingException
    {
        try
        {
            return MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("every JDK has SHA-256", ex);
        }
    }

    static String hex(final byte[] bytes)
    {
        final char[] out = new char[bytes.length * 2];
        for (int i = 0; i < bytes.length; i++)
        {
            out[2 * i] = HEX[(bytes[i] >> 4) & 0xF];
            out[2 * i + 1] = HEX[bytes[i] & 0xF];
        }
        return new String(out);
    }

    private static String subject(final X509Certificate cert)
    {
        return cert.getSubjectX500Principal().getName();
    }
}
