package dev.ferry.transport;

import java.nio.ByteBuffer;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;

import javax.net.ssl.SSLException;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;

/**
 * Turns what went wrong under TLS into a {@link ConnectionFailure}: an error code, a message in transport terms, and
 * a {@link TlsFailure} the connection's owner can add advice to. A handshake that fails is
 * {@link ErrorCode#AUTH_FAILED}; a TLS error after application data has flowed is {@link ErrorCode#NETWORK}, so the
 * owner may reconnect; clear text where TLS was expected is {@link ErrorCode#CONFIG_MISMATCH} (a peer of this protocol
 * without TLS) or {@link ErrorCode#NOT_FERRY}.
 * <p>
 * Stateless; called on the loop thread, on failure paths only.
 */
final class TlsDiagnosis
{
    private TlsDiagnosis()
    {
    }

    /**
     * @param applicationData true if application bytes were received: the handshake had succeeded.
     */
    static ConnectionFailure engineFailed(
        final SSLException ex, final boolean clientMode, final boolean applicationData, final String peer)
    {
        final String why = String.valueOf(ex.getMessage());
        if (applicationData)
        {
            return new ConnectionFailure(ErrorCode.NETWORK, "TLS failed on the connection with " + peer + ": " + why,
                TlsFailure.OTHER, false, ex);
        }
        final PeerIdentityTrustManager.IdentityException identity = identityCause(ex);
        final String reason = identity != null ? identity.getMessage() : why;
        return new ConnectionFailure(ErrorCode.AUTH_FAILED, "TLS handshake with " + peer + " failed: " + reason,
            identity != null ? identity.failure : classify(ex, why, clientMode), false, ex);
    }

    /**
     * A server of this TLS side received clear text.
     */
    static ConnectionFailure clearTextPeer(final String peer)
    {
        return new ConnectionFailure(ErrorCode.CONFIG_MISMATCH, "this side requires TLS, but the peer at " + peer +
            " connected in clear text", TlsFailure.CLEAR_TEXT_PEER, true, null);
    }

    /**
     * A server answered this client's ClientHello in clear text: report what it said if it is an error frame.
     *
     * @param netIn the bytes received, in read mode.
     */
    static ConnectionFailure clearTextAnswer(final ByteBuffer netIn, final String peer)
    {
        final int p = netIn.position();
        final int available = netIn.remaining();
        final UnsafeBuffer view = new UnsafeBuffer(netIn);
        if (available >= FrameHeader.HEADER_LENGTH &&
            FrameHeader.validate(view, p, FrameHeader.DEFAULT_MAX_FRAME_LENGTH) == ErrorCode.OK)
        {
            final int length = FrameHeader.frameLength(view, p);
            final int bodyLength = length - FrameHeader.HEADER_LENGTH;
            if (FrameHeader.type(view, p) == FrameType.COM_RES_ERROR && length <= available &&
                ErrorCodec.validate(view, p + FrameHeader.HEADER_LENGTH, bodyLength) == ErrorCode.OK)
            {
                final int code = ErrorCodec.code(view, p + FrameHeader.HEADER_LENGTH);
                return new ConnectionFailure(code == ErrorCode.OK ? ErrorCode.CONFIG_MISMATCH : code, "the peer at " +
                    peer + " answered the TLS handshake in clear text: " + ErrorCode.name(code) + ": " +
                    ErrorCodec.printableMessage(view, p + FrameHeader.HEADER_LENGTH), null, false, null);
            }
            return new ConnectionFailure(ErrorCode.CONFIG_MISMATCH, "the peer at " + peer + " does not use TLS: it " +
                "answered the TLS handshake with a clear-text frame", TlsFailure.CLEAR_TEXT_ANSWER, false, null);
        }
        return new ConnectionFailure(ErrorCode.NOT_FERRY, "the peer at " + peer + " does not speak TLS: it answered " +
            "the TLS handshake with bytes that are not a TLS record", null, false, null);
    }

    private static PeerIdentityTrustManager.IdentityException identityCause(final Throwable ex)
    {
        for (Throwable t = ex; t != null; t = t.getCause())
        {
            if (t instanceof PeerIdentityTrustManager.IdentityException)
            {
                return (PeerIdentityTrustManager.IdentityException)t;
            }
            if (t.getCause() == t)
            {
                break;
            }
        }
        return null;
    }

    /**
     * The JDK says what failed only in its messages and alert names (RFC 8446 section 6.2): read them.
     */
    private static TlsFailure classify(final SSLException ex, final String why, final boolean clientMode)
    {
        for (Throwable t = ex; t != null && t.getCause() != t; t = t.getCause())
        {
            if (t instanceof CertPathValidatorException || t instanceof CertPathBuilderException)
            {
                return TlsFailure.PEER_NOT_TRUSTED;
            }
        }
        if (why.contains("PKIX") || why.contains("certification path"))
        {
            return TlsFailure.PEER_NOT_TRUSTED;
        }
        if (clientMode)
        {
            if (why.contains("bad_certificate") || why.contains("certificate_required"))
            {
                return TlsFailure.CERTIFICATE_REQUIRED;
            }
            if (why.contains("certificate_unknown"))
            {
                return TlsFailure.CERTIFICATE_REFUSED;
            }
            return TlsFailure.OTHER;
        }
        if (why.contains("Empty client certificate chain"))
        {
            return TlsFailure.CERTIFICATE_REQUIRED;
        }
        if (why.contains("certificate_unknown") || why.contains("bad_certificate"))
        {
            return TlsFailure.CERTIFICATE_REFUSED;
        }
        return TlsFailure.OTHER;
    }
}
