package dev.ferry.engine.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.transport.TlsConfig;
import dev.ferry.transport.TransportSettings;
import picocli.CommandLine.Option;

/**
 * TLS options shared by the commands (a picocli mixin): PEM files, pins and {@code --require-tls}.
 */
final class TlsOptions
{
    @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM certificate chain (donor: its certificate; client: for mutual TLS)")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM private key (PKCS#8 or PKCS#1) matching --tls-cert")
    Path key;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "client: PEM CA (or self-signed certificate) that must have signed the donor's certificate")
    Path ca;

    @Option(names = "--tls-client-ca", paramLabel = "FILE", description = "donor: require client certificates signed by this PEM CA (mutual TLS)")
    Path clientCa;

    @Option(names = "--tls-pin", paramLabel = "SHA256HEX", description = "client: trust only the donor certificate " +
        "with this SHA-256 fingerprint (openssl x509 -noout -fingerprint -sha256; repeatable); it replaces the host " +
        "check, so it also admits a certificate that names no host")
    List<String> pins = new ArrayList<>();

    @Option(names = "--require-tls", description = "refuse to run without TLS")
    boolean requireTls;

    /**
     * Apply to {@code transport} for the donor side.
     *
     * @return true if TLS is on.
     */
    boolean applyDonor(final TransportSettings transport, final PrintWriter err)
    {
        if (ca != null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--tls-ca is a client option; the donor uses --tls-client-ca");
        }
        if (!pins.isEmpty())
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--tls-pin is a client option");
        }
        if (cert != null || key != null)
        {
            if (cert == null || key == null)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor needs both --tls-cert and --tls-key");
            }
            transport.tls(TlsConfig.server(cert, key, clientCa));
        }
        else if (clientCa != null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--tls-client-ca needs --tls-cert and --tls-key");
        }
        return finish(transport, err);
    }

    /**
     * Apply to {@code transport} for the client side.
     *
     * @return true if TLS is on.
     */
    boolean applyClient(final TransportSettings transport, final PrintWriter err)
    {
        if (clientCa != null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--tls-client-ca is a donor option");
        }
        if (ca != null)
        {
            if ((cert == null) != (key == null))
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "a client certificate needs both --tls-cert and --tls-key");
            }
            transport.tls(TlsConfig.client(ca, cert, key, pins));
        }
        else if (!pins.isEmpty())
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--tls-pin needs --tls-ca: the pinned certificate must " +
                "still lead to a trusted one (for a self-signed donor, its own certificate)");
        }
        else if (cert != null || key != null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--tls-cert/--tls-key on a client need --tls-ca to verify the donor");
        }
        return finish(transport, err);
    }

    private boolean finish(final TransportSettings transport, final PrintWriter err)
    {
        transport.requireTls(requireTls);
        final boolean on = transport.tls() != null;
        if (!on)
        {
            if (requireTls)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--require-tls is set but no TLS certificate was given");
            }
            err.println("ferry: WARNING: TLS is not configured: data and file names travel in clear text");
            err.flush();
        }
        return on;
    }
}
