package dev.ferry.transport;

import java.nio.ByteBuffer;

import org.agrona.DirectBuffer;

/**
 * What a {@link Connection} tells its owner: the frames and bulk bodies that arrive, when the send side drains, the
 * loop's ticks, and the close. The owner understands the frames; the transport only checks their headers. All methods
 * are called on the connection's {@link EventLoop} thread.
 */
public interface ConnectionHandler
{
    /**
     * A complete frame of any type but the bulk type and the heartbeat. Only its header was checked (length within
     * the cap): the handler validates the body before it reads a field of it, and reports a malformed frame with
     * {@link Connection#protocolError}. The buffer is valid only during the call.
     *
     * @param type   frame type.
     * @param body   buffer holding the body.
     * @param offset body offset.
     * @param length body length.
     */
    void onFrame(Connection connection, int type, DirectBuffer body, int offset, int length);

    /**
     * A bulk frame (see {@link Connection#bulkType}) is arriving: give a buffer with at least {@code length} bytes
     * remaining for its body, or null to stop reading until {@link Connection#resumeReading()}.
     */
    ByteBuffer acquireBody(Connection connection, int length);

    /**
     * The body of a bulk frame is complete in the buffer {@link #acquireBody} gave: {@code length} bytes from the
     * buffer's position at acquisition. Ownership of the buffer goes back to the handler.
     */
    void onBody(Connection connection, ByteBuffer body, int length);

    /**
     * The send side has drained: the handler may queue more.
     */
    void onWritable(Connection connection);

    /**
     * Called once every loop tick (a few milliseconds) and after each batch of I/O.
     */
    void onTick(Connection connection, long nowNanos);

    /**
     * The connection closed; no more callbacks follow.
     *
     * @param errorCode {@link dev.ferry.core.protocol.ErrorCode#OK} for an orderly close, else why.
     * @param message   what happened.
     */
    void onClose(Connection connection, int errorCode, String message);

    /**
     * Words to add to the message of a TLS failure before it is sent to the peer or given to {@link #onClose}: what
     * the user should change, in the terms of the program (its options, its roles). The transport's own message says
     * only what happened.
     *
     * @return text appended as is (start it with a space), or "" for none.
     */
    default String tlsHint(final Connection connection, final TlsFailure failure)
    {
        return "";
    }
}
