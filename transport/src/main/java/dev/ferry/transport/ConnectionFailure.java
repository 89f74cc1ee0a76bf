package dev.ferry.transport;

import java.io.IOException;

/**
 * A failure of a connection's socket I/O with the error code it closes with: thrown by the {@link SocketIo}
 * implementations and by {@link FrameSender}, caught by {@link Connection}, which closes (or, when
 * {@link #answerPeer} is set and an error frame type is configured, answers in clear text first).
 * <p>
 * Loop thread only; made only on the failure path.
 */
final class ConnectionFailure extends IOException
{
    private static final long serialVersionUID = 1L;

    /** {@link dev.ferry.core.protocol.ErrorCode} the connection closes with. */
    final int code;
    /** The TLS classification, or null for a failure that has nothing to do with TLS. */
    final TlsFailure tlsFailure;
    /** True if the peer speaks clear text and should be told why in an error frame before the close. */
    final boolean answerPeer;

    ConnectionFailure(final int code, final String message, final TlsFailure tlsFailure, final boolean answerPeer,
        final Throwable cause)
    {
        super(message, cause);
        this.code = code;
        this.tlsFailure = tlsFailure;
        this.answerPeer = answerPeer;
    }

    ConnectionFailure(final int code, final String message)
    {
        this(code, message, null, false, null);
    }
}
