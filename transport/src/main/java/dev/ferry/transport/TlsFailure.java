package dev.ferry.transport;

/**
 * What went wrong with TLS on a connection, in TLS terms, so that the owner of the connection can tell its user which
 * setting to change ({@link ConnectionHandler#tlsHint}). The transport's own message says what happened; it never
 * names a command-line flag.
 * <p>
 * Immutable; any thread.
 */
public enum TlsFailure
{
    /** This side runs TLS and the peer connected in clear text. */
    CLEAR_TEXT_PEER,
    /** This side runs in clear text and the peer started a TLS handshake. */
    TLS_PEER,
    /** This side started a TLS handshake and the peer answered with a clear-text frame that is not an error frame. */
    CLEAR_TEXT_ANSWER,
    /** The peer's certificate chain does not lead to a trusted certificate. */
    PEER_NOT_TRUSTED,
    /** This side needs a certificate from the peer and got none (or the peer needs one from this side). */
    CERTIFICATE_REQUIRED,
    /** The peer refused this side's certificate. */
    CERTIFICATE_REFUSED,
    /** The server's certificate names hosts, and the host this client connected to is not one of them. */
    HOST_MISMATCH,
    /** The server's certificate names no host (no DNS or IP subjectAltName) and is not pinned. */
    NO_HOST_NAMED,
    /** A pin is configured and the server's certificate does not match it. */
    PIN_MISMATCH,
    /** Any other TLS failure: the message carries the TLS engine's reason. */
    OTHER
}
