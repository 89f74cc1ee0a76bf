package dev.ferry.engine;

import java.nio.ByteBuffer;

import org.agrona.DirectBuffer;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.FrameValidator;
import dev.ferry.transport.Connection;
import dev.ferry.transport.ConnectionHandler;
import dev.ferry.transport.TlsFailure;

/**
 * The engine's edge of a connection: checks every frame's body with {@link FrameValidator} before the session's
 * handler reads a field of it, and answers a malformed or unknown frame with {@link Connection#protocolError} (an
 * error frame, then the close, on a connection with an error frame type; else the close). It also gives TLS failures
 * the advice of its side ({@link TlsHints}). Everything else goes to the session unchanged.
 * <p>
 * One per connection; called on the connection's loop thread only.
 */
public final class ValidatingHandler implements ConnectionHandler
{
    private final ConnectionHandler session;
    private final FrameValidator validator;
    private final boolean donorSide;

    private ValidatingHandler(final ConnectionHandler session, final int maxFrameLength, final boolean donorSide)
    {
        this.session = session;
        this.validator = new FrameValidator(maxFrameLength);
        this.donorSide = donorSide;
    }

    /**
     * @return a handler for a donor's session.
     */
    public static ValidatingHandler donor(final ConnectionHandler session, final int maxFrameLength)
    {
        return new ValidatingHandler(session, maxFrameLength, true);
    }

    /**
     * @return a handler for a client's task (clone or verify).
     */
    public static ValidatingHandler client(final ConnectionHandler session, final int maxFrameLength)
    {
        return new ValidatingHandler(session, maxFrameLength, false);
    }

    @Override
    public void onFrame(final Connection connection, final int type, final DirectBuffer body, final int offset, final int length)
    {
        final int result = validator.validateBody(type, body, offset, length);
        if (result != ErrorCode.OK)
        {
            connection.protocolError(result, "malformed " + FrameType.name(type) + " frame from " + connection.peer());
            return;
        }
        session.onFrame(connection, type, body, offset, length);
    }

    @Override
    public ByteBuffer acquireBody(final Connection connection, final int length)
    {
        return session.acquireBody(connection, length);
    }

    @Override
    public void onBody(final Connection connection, final ByteBuffer body, final int length)
    {
        session.onBody(connection, body, length);
    }

    @Override
    public void onWritable(final Connection connection)
    {
        session.onWritable(connection);
    }

    @Override
    public void onTick(final Connection connection, final long nowNanos)
    {
        session.onTick(connection, nowNanos);
    }

    @Override
    public void onClose(final Connection connection, final int errorCode, final String message)
    {
        session.onClose(connection, errorCode, message);
    }

    @Override
    public String tlsHint(final Connection connection, final TlsFailure failure)
    {
        return donorSide ? TlsHints.donor(failure) : TlsHints.client(failure);
    }
}
