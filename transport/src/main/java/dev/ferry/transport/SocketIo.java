package dev.ferry.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * How a {@link Connection} moves bytes between its buffers and its socket: in clear text ({@link PlainSocketIo}) or
 * through TLS ({@link TlsSocketIo}). The {@link FrameReceiver} and the {@link FrameSender} talk only to this seam, so
 * nothing above it knows whether the bytes on the wire are encrypted.
 * <p>
 * Reads and writes behave like {@code SocketChannel}'s (bytes moved, 0 when the socket has none or no room now,
 * {@link #END_OF_STREAM}); failures are {@link ConnectionFailure}s carrying the code to close with, or plain
 * {@code IOException}s from the socket. The wire bytes moved since the last call ({@link #takeWireBytesRead},
 * {@link #takeWireBytesWritten}: ciphertext under TLS, including handshake records) feed the connection's byte counters
 * and its {@link LivenessTracker}.
 * <p>
 * Loop thread only.
 */
interface SocketIo
{
    /** {@link #read} at the end of the stream, {@link #transferFrom} when the file ends before the region does. */
    int END_OF_STREAM = -1;

    /**
     * @return true if bytes are encrypted on the wire.
     */
    boolean isTls();

    /**
     * @return the negotiated protocol and cipher suite once a TLS handshake is done; null before and in clear text.
     */
    String session();

    /**
     * Read into {@code dst}: bytes already received and decoded first, then, if {@code socketAllowed}, at most one
     * socket read.
     *
     * @return bytes placed in {@code dst}, 0 if none now, or {@link #END_OF_STREAM}.
     */
    int read(ByteBuffer dst, boolean socketAllowed) throws IOException;

    /**
     * @return true if bytes were received and not yet delivered: {@link #read} may produce data without the socket.
     */
    boolean hasBufferedInput();

    /**
     * Send from {@code src} (position to limit) as far as the socket takes it, after anything this seam holds.
     *
     * @return bytes of {@code src} consumed.
     */
    int write(ByteBuffer src) throws IOException;

    /**
     * Send up to {@code count} bytes of {@code file} from {@code position}, after anything this seam holds.
     *
     * @return file bytes taken (sent, or read to be encrypted), 0 if none now, or {@link #END_OF_STREAM} if the file
     * ends at or before {@code position}.
     */
    long transferFrom(FileChannel file, long position, long count) throws IOException;

    /**
     * Write what this seam holds (ciphertext, file bytes read and not yet encrypted) and advance a handshake.
     *
     * @return true if nothing is held and application bytes may be written now.
     */
    boolean flushPending() throws IOException;

    /**
     * @return true if this seam holds bytes that must still go to the socket.
     */
    boolean hasPendingOutput();

    /**
     * @return true once application bytes can flow (always in clear text; after the handshake under TLS).
     */
    boolean readyForData();

    /**
     * @return true if a handshake is under way and nothing waits for the socket: the connection should flush so that
     * the handshake moves (a client's first flight, for one).
     */
    boolean needsHandshakeStep();

    /**
     * Forget file bytes read and not yet sent: the region is abandoned.
     *
     * @return true if there were any.
     */
    boolean discardPendingRegion();

    /**
     * @return socket bytes read since the last call.
     */
    long takeWireBytesRead();

    /**
     * @return socket bytes written since the last call.
     */
    long takeWireBytesWritten();

    /**
     * End the session on the wire where there is one (a TLS alert or {@code close_notify}), best effort. The
     * connection closes the socket.
     */
    void close();
}
