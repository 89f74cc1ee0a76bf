package dev.ferry.transport;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
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
import java.util.Enumeration;
import java.util.List;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * TLS 1.3 for every connection of a donor (server mode) or of a client (client mode): the certificates and keys,
 * loaded once from PEM files, and the {@link SSLContext} made of them. Immutable; safe to share between threads and
 * event loops. Give it to {@link TransportSettings#tls}; each {@link Connection} then makes its own engine.
 * <h2>Files</h2>
 * <ul>
 * <li>Certificates: PEM, one or more {@code -----BEGIN CERTIFICATE-----} blocks (a chain starts with the leaf), as
 * {@code openssl req -x509 -newkey ...} writes them. Text outside the blocks is ignored.</li>
 * <li>Private keys: PEM, unencrypted PKCS#8 ({@code -----BEGIN PRIVATE KEY-----}: what {@code openssl req -newkey}
 * and {@code openssl genpkey} write) or PKCS#1 RSA ({@code -----BEGIN RSA PRIVATE KEY-----}); RSA, EC and EdDSA keys.
 * The key is checked against the certificate when the config is made. Or a PKCS#12 keystore
 * ({@link #serverPkcs12}).</li>
 * </ul>
 * <h2>What is verified</h2>
 * <ul>
 * <li>Client mode: the donor's certificate chain must lead to a certificate in the CA file (a CA, or the donor's own
 * self-signed certificate), checked by the JDK's PKIX trust manager (signatures, validity dates, CA constraints).
 * If the donor's certificate has subjectAltName entries, one of them must also match the host the client was given,
 * as HTTPS does (RFC 2818/6125: an IP literal against IP entries, a name against DNS entries, {@code *} only as the
 * whole left-most label). A certificate without subjectAltName entries is accepted on its chain alone, so with a
 * shared CA, pin the donor by giving its own certificate as the CA file.</li>
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

    private static final String[] CIPHER_SUITES = {
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256" };
    private static final String CERTIFICATE_BLOCK = "CERTIFICATE";
    private static final String PKCS8_BLOCK = "PRIVATE KEY";
    private static final String PKCS1_RSA_BLOCK = "RSA PRIVATE KEY";
    private static final String KEY_ALIAS = "ferry";
    /** Protects the key only inside the in-memory keystore the key manager reads. */
    private static final char[] IN_MEMORY_PASSWORD = "ferry-in-memory".toCharArray();
    /** DER of AlgorithmIdentifier { rsaEncryption, NULL }, to wrap a PKCS#1 RSA key into PKCS#8. */
    private static final byte[] RSA_ALGORITHM_ID = {
        0x30, 0x0D, 0x06, 0x09, 0x2A, (byte)0x86, 0x48, (byte)0x86, (byte)0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00 };

    private final SSLContext context;
    private final boolean clientMode;
    private final boolean clientCertificates;
    private final boolean presentsCertificate;
    private final String description;

    private TlsConfig(
        final SSLContext context, final boolean clientMode, final boolean clientCertificates,
        final boolean presentsCertificate, final String description)
    {
        this.context = context;
        this.clientMode = clientMode;
        this.clientCertificates = clientCertificates;
        this.presentsCertificate = presentsCertificate;
        this.description = description;
    }

    /**
     * A donor's TLS: its certificate chain and private key; with {@code clientCa}, clients must present a certificate
     * signed by it.
     *
     * @param certificateChain PEM file of the donor's certificate (then its intermediates, if any).
     * @param privateKey       PEM file of the matching private key.
     * @param clientCa         PEM file of the CA certificates client certificates must lead to, or null.
     * @throws FerryException CONFIG_MISMATCH naming the file if a file is unusable, IO_ERROR if it cannot be read.
     */
    public static TlsConfig server(final Path certificateChain, final Path privateKey, final Path clientCa)
    {
        final X509Certificate[] chain = readCertificates(certificateChain, "TLS certificate");
        final PrivateKey key = readPrivateKey(privateKey);
        checkKeyMatches(key, chain[0], privateKey, certificateChain);
        return server(chain, key, clientCa);
    }

    /**
     * A donor's TLS from a PKCS#12 keystore holding one private key entry (the first one is used).
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
            throw bad(keystore, "TLS keystore", "holds no private key entry");
        }
        catch (final IOException ex)
        {
            if (ex.getCause() instanceof java.security.UnrecoverableKeyException)
            {
                throw bad(keystore, "TLS keystore", "cannot be opened with the password given");
            }
            throw unreadable(keystore, "TLS keystore", ex);
        }
        catch (final GeneralSecurityException | ClassCastException ex)
        {
            throw bad(keystore, "TLS keystore", "is not a usable PKCS#12 keystore (" + ex.getMessage() + ")");
        }
    }

    /**
     * A client's TLS: the CA the donor's certificate must lead to, and optionally a certificate to present to a donor
     * that requires one.
     *
     * @param trustedCa        PEM file of CA certificates (or of the donor's self-signed certificate).
     * @param certificateChain PEM file of the client's certificate, or null for none.
     * @param privateKey       PEM file of its private key; null exactly when {@code certificateChain} is.
     */
    public static TlsConfig client(final Path trustedCa, final Path certificateChain, final Path privateKey)
    {
        if (trustedCa == null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "a TLS client needs the CA file that signed the " +
                "donor's certificate (--tls-ca)");
        }
        if ((certificateChain == null) != (privateKey == null))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "a TLS client certificate needs both the " +
                "certificate (--tls-cert) and its private key (--tls-key)");
        }
        KeyManager[] keyManagers = null;
        String subject = "no client certificate";
        if (certificateChain != null)
        {
            final X509Certificate[] chain = readCertificates(certificateChain, "TLS certificate");
            final PrivateKey key = readPrivateKey(privateKey);
            checkKeyMatches(key, chain[0], privateKey, certificateChain);
            keyManagers = keyManagers(chain, key);
            subject = "client certificate " + chain[0].getSubjectX500Principal().getName();
        }
        final X509Certificate[] cas = readCertificates(trustedCa, "TLS CA");
        final TrustManager[] trust = { new HostCheckingTrustManager(pkix(cas, trustedCa)) };
        return new TlsConfig(context(keyManagers, trust), true, false, keyManagers != null,
            PROTOCOL + " client trusting " + cas.length + " certificate(s) of " + trustedCa + ", " + subject);
    }

    private static TlsConfig server(final X509Certificate[] chain, final PrivateKey key, final Path clientCa)
    {
        TrustManager[] trust = null;
        String clients = "no client certificates";
        if (clientCa != null)
        {
            final X509Certificate[] cas = readCertificates(clientCa, "TLS client CA");
            trust = new TrustManager[] { pkix(cas, clientCa) };
            clients = "client certificates required (CA " + clientCa + ")";
        }
        return new TlsConfig(context(keyManagers(chain, key), trust), false, clientCa != null, true,
            PROTOCOL + " server, certificate " + chain[0].getSubjectX500Principal().getName() + " valid until " +
            chain[0].getNotAfter().toInstant() + ", " + clients);
    }

    /**
     * @return true for a client's config, false for a donor's.
     */
    public boolean clientMode()
    {
        return clientMode;
    }

    /**
     * @return true if this donor requires and verifies client certificates (mutual TLS).
     */
    public boolean requiresClientCertificate()
    {
        return clientCertificates;
    }

    /**
     * @return true if this side presents a certificate (always for a donor; for a client, when it has one).
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
     * @param peer the remote address; in client mode its host string is what the donor's certificate is checked
     *             against.
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
            throw bad(file, "TLS CA", "gives no X.509 trust manager");
        }
        catch (final GeneralSecurityException | IOException ex)
        {
            throw bad(file, "TLS CA", "cannot be used as a trust anchor (" + ex.getMessage() + ")");
        }
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
    private static void checkKeyMatches(final PrivateKey key, final X509Certificate cert, final Path keyFile, final Path certFile)
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

    private static String readText(final Path file, final String what)
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

    private static FerryException bad(final Path file, final String what, final String problem)
    {
        return new FerryException(ErrorCode.CONFIG_MISMATCH, what + " file " + file + " " + problem);
    }

    private static FerryException unreadable(final Path file, final String what, final IOException ex)
    {
        return new FerryException(ErrorCode.IO_ERROR, "cannot read the " + what + " file " + file + ": " + ex, ex);
    }

    /**
     * The client's trust manager: PKIX chain validation against the CA file, then, when the donor's certificate has
     * subjectAltName entries, a match of the host the client connected to (RFC 2818/6125 rules).
     */
    static final class HostCheckingTrustManager extends X509ExtendedTrustManager
    {
        private static final int SAN_DNS = 2;
        private static final int SAN_IP = 7;

        private final X509ExtendedTrustManager pkix;

        HostCheckingTrustManager(final X509ExtendedTrustManager pkix)
        {
            this.pkix = pkix;
        }

        @Override
        public void checkServerTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
            throws CertificateException
        {
            pkix.checkServerTrusted(chain, authType, engine);
            checkHost(chain[0], engine.getPeerHost());
        }

        @Override
        public void checkServerTrusted(final X509Certificate[] chain, final String authType, final java.net.Socket socket)
            throws CertificateException
        {
            pkix.checkServerTrusted(chain, authType, socket);
            checkHost(chain[0], socket == null || socket.getInetAddress() == null ? null :
                socket.getInetAddress().getHostAddress());
        }

        @Override
        public void checkServerTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
        {
            pkix.checkServerTrusted(chain, authType);
        }

        @Override
        public void checkClientTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine)
            throws CertificateException
        {
            pkix.checkClientTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(final X509Certificate[] chain, final String authType, final java.net.Socket socket)
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
            return ((X509TrustManager)pkix).getAcceptedIssuers();
        }

        /**
         * @throws CertificateException if the certificate names hosts and {@code host} is not one of them.
         */
        static void checkHost(final X509Certificate cert, final String host) throws CertificateException
        {
            final java.util.Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans == null || sans.isEmpty())
            {
                return;
            }
            final List<String> names = new ArrayList<>();
            final boolean literal = host != null && isIpLiteral(host);
            for (final List<?> san : sans)
            {
                final int type = (Integer)san.get(0);
                if (type != SAN_DNS && type != SAN_IP)
                {
                    continue;
                }
                final String value = String.valueOf(san.get(1));
                names.add((type == SAN_DNS ? "dns:" : "ip:") + value);
                if (host == null)
                {
                    continue;
                }
                if (type == SAN_IP && literal && sameAddress(value, host))
                {
                    return;
                }
                if (type == SAN_DNS && !literal && dnsMatches(value, host))
                {
                    return;
                }
            }
            if (names.isEmpty())
            {
                return;
            }
            throw new CertificateException("the donor's certificate " + cert.getSubjectX500Principal().getName() +
                " is for " + names + ", not for '" + host + "' (connect to one of those names, or give the donor a " +
                "certificate whose subjectAltName includes '" + host + "')");
        }

        private static boolean isIpLiteral(final String host)
        {
            if (host.indexOf(':') >= 0)
            {
                return true;
            }
            int dots = 0;
            for (int i = 0; i < host.length(); i++)
            {
                final char ch = host.charAt(i);
                if (ch == '.')
                {
                    dots++;
                }
                else if (ch < '0' || ch > '9')
                {
                    return false;
                }
            }
            return dots == 3;
        }

        private static boolean sameAddress(final String a, final String b)
        {
            try
            {
                // both are literals: no name lookup happens
                return java.net.InetAddress.getByName(strip(a)).equals(java.net.InetAddress.getByName(strip(b)));
            }
            catch (final java.net.UnknownHostException ex)
            {
                return false;
            }
        }

        private static String strip(final String ip)
        {
            return ip.startsWith("[") && ip.endsWith("]") ? ip.substring(1, ip.length() - 1) : ip;
        }

        static boolean dnsMatches(final String pattern, final String host)
        {
            final String p = lower(pattern);
            final String h = lower(host);
            if (p.startsWith("*."))
            {
                final int dot = h.indexOf('.');
                return dot > 0 && h.substring(dot).equals(p.substring(1)) && p.indexOf('.', 2) > 0;
            }
            return p.equals(h);
        }

        private static String lower(final String s)
        {
            final String l = s.toLowerCase(java.util.Locale.ROOT);
            return l.endsWith(".") ? l.substring(0, l.length() - 1) : l;
        }
    }
}
