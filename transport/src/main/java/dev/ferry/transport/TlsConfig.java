package dev.ferry.transport;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * TLS 1.3 for every connection of a server (a donor) or of a client: the certificates and keys, loaded once from PEM
 * files ({@link PemFiles}) or a PKCS#12 keystore, and the {@link SSLContext} made of them. Immutable; safe to share
 * between threads and event loops. Give it to {@link TransportSettings#tls}; each {@link Connection} then makes its own
 * engine. The key is checked against the certificate when the config is made.
 * <h2>What is verified</h2>
 * <ul>
 * <li>Client mode: the server's certificate chain must lead to a certificate in the CA file (a CA, or the server's own
 * self-signed certificate), checked by the JDK's PKIX trust manager (signatures, validity dates, CA constraints). Then
 * its identity, by the JDK's {@code HTTPS} endpoint identification (RFC 2818 / RFC 6125 as the platform implements
 * them) against the host the client connected to: an IP literal against IP entries, a name against DNS entries. A
 * certificate that names no host (no DNS or IP subjectAltName) is refused. With pins ({@link #client(Path, Path,
 * Path, List)}: SHA-256 fingerprints of the DER certificate, as {@code openssl x509 -noout -fingerprint -sha256}
 * prints them), the certificate must be a pinned one instead, whatever hosts it names or not.</li>
 * <li>Server mode with a client CA: every client must present a certificate whose chain leads to a certificate in
 * that file (mutual TLS); no host name is checked for clients. Without a client CA no client certificate is
 * asked for.</li>
 * </ul>
 * Only TLS 1.3 is enabled, with the JDK's TLS 1.3 cipher suites (AES-128-GCM preferred, as the fastest with AES-NI).
 */
public final class TlsConfig
{
    /** The only protocol enabled. */
    public static final String PROTOCOL = "TLSv1.3";
    /** The JDK's endpoint identification algorithm for a client's check of the server's host. */
    public static final String ENDPOINT_IDENTIFICATION = "HTTPS";

    private static final String[] CIPHER_SUITES = {
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256" };
    private static final int SHA256_LENGTH = 32;
    private static final String KEY_ALIAS = "ferry";
    /** Protects the key only inside the in-memory keystore the key manager reads. */
    private static final char[] IN_MEMORY_PASSWORD = "ferry-in-memory".toCharArray();

    private final SSLContext context;
    private final boolean clientMode;
    private final boolean clientCertificates;
    private final boolean presentsCertificate;
    private final boolean pinned;
    private final String description;

    private TlsConfig(
        final SSLContext context, final boolean clientMode, final boolean clientCertificates,
        final boolean presentsCertificate, final boolean pinned, final String description)
    {
        this.context = context;
        this.clientMode = clientMode;
        this.clientCertificates = clientCertificates;
        this.presentsCertificate = presentsCertificate;
        this.pinned = pinned;
        this.description = description;
    }

    /**
     * A server's TLS: its certificate chain and private key; with {@code clientCa}, clients must present a certificate
     * signed by it.
     *
     * @param certificateChain PEM file of the server's certificate (then its intermediates, if any).
     * @param privateKey       PEM file of the matching private key.
     * @param clientCa         PEM file of the CA certificates client certificates must lead to, or null.
     * @throws FerryException CONFIG_MISMATCH naming the file if a file is unusable, IO_ERROR if it cannot be read.
     */
    public static TlsConfig server(final Path certificateChain, final Path privateKey, final Path clientCa)
    {
        final X509Certificate[] chain = PemFiles.readCertificates(certificateChain, "TLS certificate");
        final PrivateKey key = PemFiles.readPrivateKey(privateKey);
        PemFiles.checkKeyMatches(key, chain[0], privateKey, certificateChain);
        return server(chain, key, clientCa);
    }

    /**
     * A server's TLS from a PKCS#12 keystore holding one private key entry (the first one is used).
     *
     * @param keystore PKCS#12 file.
     * @param password its password (also the key's).
     * @param clientCa PEM file of the CA certificates client certificates must lead to, or null.
     */
    public static TlsConfig serverPkcs12(final Path keystore, final char[] password, final Path clientCa)
    {
        try (InputStream in = Files.newInputStream(keystore))
        {
            final KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            final Enumeration<String> aliases = ks.aliases();
            while (aliases.hasMoreElements())
            {
                final String alias = aliases.nextElement();
                if (ks.isKeyEntry(alias))
                {
                    final PrivateKey key = (PrivateKey)ks.getKey(alias, password);
                    final java.security.cert.Certificate[] certs = ks.getCertificateChain(alias);
                    final X509Certificate[] chain = new X509Certificate[certs.length];
                    for (int i = 0; i < certs.length; i++)
                    {
                        chain[i] = (X509Certificate)certs[i];
                    }
                    return server(chain, key, clientCa);
                }
            }
            throw PemFiles.bad(keystore, "TLS keystore", "holds no private key entry");
        }
        catch (final IOException ex)
        {
            if (ex.getCause() instanceof java.security.UnrecoverableKeyException)
            {
                throw PemFiles.bad(keystore, "TLS keystore", "cannot be opened with the password given");
            }
            throw PemFiles.unreadable(keystore, "TLS keystore", ex);
        }
        catch (final GeneralSecurityException | ClassCastException ex)
        {
            throw PemFiles.bad(keystore, "TLS keystore", "is not a usable PKCS#12 keystore (" + ex.getMessage() + ")");
        }
    }

    /**
     * A client's TLS that checks the server's host: the CA the server's certificate must lead to, and optionally a
     * certificate to present to a server that requires one.
     *
     * @param trustedCa        PEM file of CA certificates (or of the server's self-signed certificate).
     * @param certificateChain PEM file of the client's certificate, or null for none.
     * @param privateKey       PEM file of its private key; null exactly when {@code certificateChain} is.
     */
    public static TlsConfig client(final Path trustedCa, final Path certificateChain, final Path privateKey)
    {
        return client(trustedCa, certificateChain, privateKey, List.of());
    }

    /**
     * A client's TLS, pinned: as {@link #client(Path, Path, Path)}, and with pins the server's certificate must be one
     * of them (this also accepts a certificate that names no host, and replaces the host check).
     *
     * @param pins SHA-256 fingerprints of DER certificates: 64 hex digits, colons allowed; empty for a host check.
     */
    public static TlsConfig client(
        final Path trustedCa, final Path certificateChain, final Path privateKey, final List<String> pins)
    {
        if (trustedCa == null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "a TLS client needs a CA file to verify the server's " +
                "certificate against");
        }
        if ((certificateChain == null) != (privateKey == null))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "a TLS client certificate needs both the certificate " +
                "file and its private key file");
        }
        final byte[][] pinBytes = new byte[pins.size()][];
        for (int i = 0; i < pinBytes.length; i++)
        {
            pinBytes[i] = parsePin(pins.get(i));
        }
        KeyManager[] keyManagers = null;
        String subject = "no client certificate";
        if (certificateChain != null)
        {
            final X509Certificate[] chain = PemFiles.readCertificates(certificateChain, "TLS certificate");
            final PrivateKey key = PemFiles.readPrivateKey(privateKey);
            PemFiles.checkKeyMatches(key, chain[0], privateKey, certificateChain);
            keyManagers = keyManagers(chain, key);
            subject = "client certificate " + chain[0].getSubjectX500Principal().getName();
        }
        final X509Certificate[] cas = PemFiles.readCertificates(trustedCa, "TLS CA");
        final TrustManager[] trust = { new PeerIdentityTrustManager(pkix(cas, trustedCa), pinBytes) };
        return new TlsConfig(context(keyManagers, trust), true, false, keyManagers != null, pinBytes.length > 0,
            PROTOCOL + " client trusting " + cas.length + " certificate(s) of " + trustedCa + ", " +
            (pinBytes.length > 0 ? pinBytes.length + " pinned server certificate(s), " : "") + subject);
    }

    private static TlsConfig server(final X509Certificate[] chain, final PrivateKey key, final Path clientCa)
    {
        TrustManager[] trust = null;
        String clients = "no client certificates";
        if (clientCa != null)
        {
            final X509Certificate[] cas = PemFiles.readCertificates(clientCa, "TLS client CA");
            trust = new TrustManager[] { pkix(cas, clientCa) };
            clients = "client certificates required (CA " + clientCa + ")";
        }
        return new TlsConfig(context(keyManagers(chain, key), trust), false, clientCa != null, true, false,
            PROTOCOL + " server, certificate " + chain[0].getSubjectX500Principal().getName() + " valid until " +
            chain[0].getNotAfter().toInstant() + ", " + clients);
    }

    /**
     * @return the 32 bytes of a SHA-256 fingerprint written as 64 hex digits, with or without colons.
     * @throws FerryException CONFIG_MISMATCH if it is not one.
     */
    static byte[] parsePin(final String pin)
    {
        final String hex = pin == null ? "" : pin.replace(":", "").strip().toLowerCase(Locale.ROOT);
        if (hex.length() != 2 * SHA256_LENGTH || !hex.chars().allMatch(ch -> Character.digit(ch, 16) >= 0))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "TLS pin '" + pin + "' is not a SHA-256 fingerprint " +
                "(64 hex digits, colons allowed)");
        }
        final byte[] out = new byte[SHA256_LENGTH];
        for (int i = 0; i < out.length; i++)
        {
            out[i] = (byte)Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    /**
     * @return true for a client's config, false for a server's.
     */
    public boolean clientMode()
    {
        return clientMode;
    }

    /**
     * @return true if this server requires and verifies client certificates (mutual TLS).
     */
    public boolean requiresClientCertificate()
    {
        return clientCertificates;
    }

    /**
     * @return true if this side presents a certificate (always for a server; for a client, when it has one).
     */
    public boolean presentsCertificate()
    {
        return presentsCertificate;
    }

    /**
     * @return one line for a person: mode, certificate, what is required.
     */
    public String description()
    {
        return description;
    }

    @Override
    public String toString()
    {
        return description;
    }

    /**
     * A new engine for one connection, in this config's mode, before its handshake. Any thread.
     *
     * @param peer the remote address; in client mode its host string (the name or literal the client was given) is
     *             what the server's certificate must name.
     */
    SSLEngine newEngine(final InetSocketAddress peer)
    {
        final SSLEngine engine = peer == null ? context.createSSLEngine() :
            context.createSSLEngine(peer.getHostString(), peer.getPort());
        engine.setUseClientMode(clientMode);
        final SSLParameters p = engine.getSSLParameters();
        p.setProtocols(new String[] { PROTOCOL });
        p.setCipherSuites(supported(engine.getSupportedCipherSuites()));
        p.setUseCipherSuitesOrder(true);
        if (clientMode && !pinned)
        {
            p.setEndpointIdentificationAlgorithm(ENDPOINT_IDENTIFICATION);
        }
        if (!clientMode)
        {
            p.setNeedClientAuth(clientCertificates);
        }
        engine.setSSLParameters(p);
        return engine;
    }

    private static String[] supported(final String[] available)
    {
        final List<String> out = new ArrayList<>();
        for (final String s : CIPHER_SUITES)
        {
            for (final String a : available)
            {
                if (a.equals(s))
                {
                    out.add(s);
                }
            }
        }
        return out.toArray(new String[0]);
    }

    private static SSLContext context(final KeyManager[] keyManagers, final TrustManager[] trustManagers)
    {
        try
        {
            final SSLContext c = SSLContext.getInstance(PROTOCOL);
            c.init(keyManagers, trustManagers, null);
            return c;
        }
        catch (final GeneralSecurityException ex)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "this JVM cannot do " + PROTOCOL + ": " + ex.getMessage(), ex);
        }
    }

    private static KeyManager[] keyManagers(final X509Certificate[] chain, final PrivateKey key)
    {
        try
        {
            final KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(KEY_ALIAS, key, IN_MEMORY_PASSWORD, chain);
            final KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
            kmf.init(ks, IN_MEMORY_PASSWORD);
            return kmf.getKeyManagers();
        }
        catch (final GeneralSecurityException | IOException ex)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "cannot use the TLS key and certificate: " +
                ex.getMessage(), ex);
        }
    }

    private static X509ExtendedTrustManager pkix(final X509Certificate[] cas, final Path file)
    {
        try
        {
            final KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            for (int i = 0; i < cas.length; i++)
            {
                ks.setCertificateEntry("ca-" + i, cas[i]);
            }
            final TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            for (final TrustManager tm : tmf.getTrustManagers())
            {
                if (tm instanceof X509ExtendedTrustManager)
                {
                    return (X509ExtendedTrustManager)tm;
                }
            }
            throw PemFiles.bad(file, "TLS CA", "gives no X.509 trust manager");
        }
        catch (final GeneralSecurityException | IOException ex)
        {
            throw PemFiles.bad(file, "TLS CA", "cannot be used as a trust anchor (" + ex.getMessage() + ")");
        }
    }
}
