package dev.ferry.transport;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates made at test time, so no key is ever committed: {@code keytool} (from the running JDK) makes the keys
 * and certificates in PKCS#12 keystores, and this class writes them out as the PEM files {@code openssl req -x509}
 * would (certificate chain, PKCS#8 private key). One instance per directory; not thread-safe.
 */
public final class TestPki
{
    public static final String PASSWORD = "changeit";

    /**
     * One identity: PEM certificate chain, PEM private key, and the PKCS#12 keystore they came from.
     */
    public static final class Identity
    {
        public final String name;
        public final Path cert;
        public final Path key;
        public final Path p12;

        Identity(final String name, final Path cert, final Path key, final Path p12)
        {
            this.name = name;
            this.cert = cert;
            this.key = key;
            this.p12 = p12;
        }
    }

    private final Path dir;

    public TestPki(final Path dir)
    {
        this.dir = dir;
    }

    /**
     * A self-signed certificate (usable as its own CA file).
     *
     * @param keyAlg "EC" or "RSA".
     * @param san    keytool SAN extension value (e.g. {@code ip:127.0.0.1,dns:localhost}), or null for none.
     */
    public Identity selfSigned(final String name, final String keyAlg, final String san) throws IOException
    {
        final Path p12 = genKeyPair(name, keyAlg, san, false);
        return export(name, p12, null);
    }

    /**
     * A CA: self-signed with basicConstraints CA:true.
     */
    public Identity ca(final String name) throws IOException
    {
        final Path p12 = genKeyPair(name, "EC", null, true);
        return export(name, p12, null);
    }

    /**
     * A certificate signed by {@code ca}; its PEM file holds the chain (leaf, then the CA).
     */
    public Identity signedBy(final Identity ca, final String name, final String keyAlg, final String san) throws IOException
    {
        final Path p12 = genKeyPair(name, keyAlg, null, false);
        final Path csr = dir.resolve(name + ".csr");
        final Path crt = dir.resolve(name + ".signed.pem");
        keytool("-certreq", "-alias", name, "-keystore", p12.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD,
            "-file", csr.toString());
        final List<String> args = new ArrayList<>(List.of("-gencert", "-alias", ca.name, "-keystore", ca.p12.toString(),
            "-storetype", "PKCS12", "-storepass", PASSWORD, "-infile", csr.toString(), "-outfile", crt.toString(), "-rfc",
            "-validity", "2"));
        if (san != null)
        {
            args.add("-ext");
            args.add("SAN=" + san);
        }
        keytool(args.toArray(new String[0]));
        return export(name, p12, List.of(crt, ca.cert));
    }

    private Path genKeyPair(final String name, final String keyAlg, final String san, final boolean ca) throws IOException
    {
        final Path p12 = dir.resolve(name + ".p12");
        final List<String> args = new ArrayList<>(List.of("-genkeypair", "-alias", name, "-keyalg", keyAlg,
            "-dname", "CN=" + name + ",O=Ferry test", "-validity", "2", "-keystore", p12.toString(), "-storetype", "PKCS12",
            "-storepass", PASSWORD, "-keypass", PASSWORD));
        if ("EC".equals(keyAlg))
        {
            args.add("-groupname");
            args.add("secp256r1");
        }
        else
        {
            args.add("-keysize");
            args.add("2048");
        }
        if (san != null)
        {
            args.add("-ext");
            args.add("SAN=" + san);
        }
        if (ca)
        {
            args.add("-ext");
            args.add("BC:c=ca:true");
        }
        keytool(args.toArray(new String[0]));
        return p12;
    }

    /**
     * Write the key (PKCS#8) and the certificate chain (the keystore's, or {@code chainFiles} concatenated) as PEM.
     */
    private Identity export(final String name, final Path p12, final List<Path> chainFiles) throws IOException
    {
        try (InputStream in = Files.newInputStream(p12))
        {
            final KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, PASSWORD.toCharArray());
            final Key key = ks.getKey(name, PASSWORD.toCharArray());
            final Path keyPem = dir.resolve(name + ".key.pem");
            Files.writeString(keyPem, pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
            final Path certPem = dir.resolve(name + ".cert.pem");
            final StringBuilder chain = new StringBuilder();
            if (chainFiles == null)
            {
                for (final Certificate c : ks.getCertificateChain(name))
                {
                    chain.append(pem("CERTIFICATE", c.getEncoded()));
                }
            }
            else
            {
                for (final Path f : chainFiles)
                {
                    chain.append(Files.readString(f, StandardCharsets.US_ASCII).trim()).append('\n');
                }
            }
            Files.writeString(certPem, chain.toString(), StandardCharsets.US_ASCII);
            return new Identity(name, certPem, keyPem, p12);
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IOException("cannot export " + p12 + ": " + ex, ex);
        }
    }

    public static String pem(final String type, final byte[] der)
    {
        return "-----BEGIN " + type + "-----\n" +
            Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der) +
            "\n-----END " + type + "-----\n";
    }

    private void keytool(final String... args) throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.add("-noprompt");
        command.addAll(List.of(args));
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            final byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0)
            {
                throw new IOException("keytool failed: " + command + "\n" + new String(out, StandardCharsets.UTF_8));
            }
        }
        catch (final InterruptedException ex)
        {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running keytool", ex);
        }
    }
}
