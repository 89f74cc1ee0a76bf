package dev.ferry.engine;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.transport.TlsFailure;
import dev.ferry.transport.TransportSettings;

/**
 * What a person should change when TLS fails, in Ferry's terms (donor and client, the {@code ferry} options): the
 * transport says what happened ({@link TlsFailure}), this class adds the advice, for the side that reports it.
 * <p>
 * Stateless; any thread.
 */
public final class TlsHints
{
    private TlsHints()
    {
    }

    /**
     * @return advice for a donor's report of {@code failure} (also what a refused client is told), starting with a
     * space, or "".
     */
    public static String donor(final TlsFailure failure)
    {
        switch (failure)
        {
            case CLEAR_TEXT_PEER:
                return " (clone with --tls-ca FILE naming the CA that signed the donor's certificate)";
            case TLS_PEER:
                return " (give the donor --tls-cert and --tls-key, or clone without --tls-ca)";
            case PEER_NOT_TRUSTED:
                return " (the client's certificate is not signed by a CA in --tls-client-ca)";
            case CERTIFICATE_REQUIRED:
                return " (the client presented no certificate signed by --tls-client-ca; it needs --tls-cert and " +
                    "--tls-key with such a certificate)";
            case CERTIFICATE_REFUSED:
                return " (the client does not trust this donor's certificate: check its --tls-ca)";
            default:
                return "";
        }
    }

    /**
     * @return advice for a client's report of {@code failure}, starting with a space, or "".
     */
    public static String client(final TlsFailure failure)
    {
        switch (failure)
        {
            case CLEAR_TEXT_ANSWER:
                return " (start the donor with --tls-cert and --tls-key, or clone without --tls-ca)";
            case PEER_NOT_TRUSTED:
                return " (the donor's certificate is not signed by a CA in --tls-ca)";
            case CERTIFICATE_REQUIRED:
                return " (the donor requires a client certificate signed by its --tls-client-ca: pass --tls-cert and " +
                    "--tls-key)";
            case CERTIFICATE_REFUSED:
                return " (the donor does not trust this client's certificate)";
            case HOST_MISMATCH:
                return " (connect to one of those names, or give the donor a certificate whose subjectAltName " +
                    "includes the host you connect to)";
            case NO_HOST_NAMED:
                return " (give the donor a certificate with a subjectAltName for its host, or trust this one " +
                    "explicitly with --tls-pin and the fingerprint above)";
            case PIN_MISMATCH:
                return " (the donor's certificate is not the one --tls-pin names)";
            default:
                return "";
        }
    }

    /**
     * Refuse settings that require TLS and have none, naming the options that give it.
     *
     * @param donor true for the donor's settings, false for a client's.
     * @throws FerryException CONFIG_MISMATCH.
     */
    public static void checkRequiredTls(final TransportSettings transport, final boolean donor)
    {
        if (transport.requireTls() && transport.tls() == null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "TLS is required (--require-tls) but not configured: " +
                (donor ? "the donor needs --tls-cert and --tls-key" : "the client needs --tls-ca"));
        }
    }
}
