package dev.ferry.transport;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * Settings of the transport: buffer sizes, the frame cap, timeouts, heartbeats and TLS. Chained setters, one
 * {@link #conclude()}; immutable in practice afterwards, and then readable from any thread.
 * <p>
 * TLS: with {@link #tls(TlsConfig)} every connection made with these settings runs TLS 1.3 in the config's mode (a
 * server's config for the accepting side, a client's for the connecting side); there is no clear-text fallback either
 * way: a TLS server refuses a clear-text client, and a TLS client refuses a server that answers in clear text.
 * {@link #requireTls}
 * makes a missing TLS config an error in {@link #conclude()}, so a deployment that asks for TLS never runs in clear
 * text by mistake.
 */
public final class TransportSettings
{
    public static final String READ_TIMEOUT_PROP = "ferry.read.timeout.ms";
    public static final long READ_TIMEOUT_DEFAULT = 30_000;

    public static final String HEARTBEAT_PROP = "ferry.heartbeat.ms";
    public static final long HEARTBEAT_DEFAULT = 1_000;

    public static final String CONNECT_TIMEOUT_PROP = "ferry.connect.timeout.ms";
    public static final long CONNECT_TIMEOUT_DEFAULT = 10_000;

    /** Receive staging buffer: control frames must fit in it. */
    public static final int STAGING_DEFAULT = 1024 * 1024;
    /** Send buffer for frame headers, control frames and small blocks. */
    public static final int SEND_BUFFER_DEFAULT = 1024 * 1024;

    /** Socket buffer size to ask for where it raises the OS's ceiling ({@link SocketBuffers}); 0: never set. */
    public static final String SOCKET_BUFFER_PROP = "ferry.socket.buffer";
    public static final long SOCKET_BUFFER_DEFAULT = 4L << 20;

    private long socketBufferBytes = Long.getLong(SOCKET_BUFFER_PROP, SOCKET_BUFFER_DEFAULT);
    private long readTimeoutMs = Long.getLong(READ_TIMEOUT_PROP, READ_TIMEOUT_DEFAULT);
    private long heartbeatMs = Long.getLong(HEARTBEAT_PROP, HEARTBEAT_DEFAULT);
    private long connectTimeoutMs = Long.getLong(CONNECT_TIMEOUT_PROP, CONNECT_TIMEOUT_DEFAULT);
    private int stagingCapacity = STAGING_DEFAULT;
    private int sendCapacity = SEND_BUFFER_DEFAULT;
    private int maxFrameLength = CloneSettings.MAX_FRAME_DEFAULT;
    private long transferCap = CloneSettings.TRANSFER_CAP_DEFAULT;
    private TlsConfig tls;
    private boolean requireTls;

    /**
     * SO_RCVBUF / SO_SNDBUF to ask for, per direction only where the OS's autotuning would not reach it
     * ({@link SocketBuffers}); 0 leaves every socket to the OS.
     */
    public TransportSettings socketBufferBytes(final long v)
    {
        socketBufferBytes = v;
        return this;
    }

    public long socketBufferBytes()
    {
        return socketBufferBytes;
    }

    public TransportSettings readTimeoutMs(final long v)
    {
        readTimeoutMs = v;
        return this;
    }

    public long readTimeoutMs()
    {
        return readTimeoutMs;
    }

    public TransportSettings heartbeatMs(final long v)
    {
        heartbeatMs = v;
        return this;
    }

    public long heartbeatMs()
    {
        return heartbeatMs;
    }

    public TransportSettings connectTimeoutMs(final long v)
    {
        connectTimeoutMs = v;
        return this;
    }

    public long connectTimeoutMs()
    {
        return connectTimeoutMs;
    }

    public TransportSettings stagingCapacity(final int v)
    {
        stagingCapacity = v;
        return this;
    }

    public int stagingCapacity()
    {
        return stagingCapacity;
    }

    public TransportSettings sendCapacity(final int v)
    {
        sendCapacity = v;
        return this;
    }

    public int sendCapacity()
    {
        return sendCapacity;
    }

    public TransportSettings maxFrameLength(final int v)
    {
        maxFrameLength = v;
        return this;
    }

    public int maxFrameLength()
    {
        return maxFrameLength;
    }

    public TransportSettings transferCap(final long v)
    {
        transferCap = v;
        return this;
    }

    public long transferCap()
    {
        return transferCap;
    }

    /**
     * Run every connection over TLS with this config; null (the default) for clear text.
     */
    public TransportSettings tls(final TlsConfig v)
    {
        tls = v;
        return this;
    }

    /**
     * @return the TLS config, or null for clear text.
     */
    public TlsConfig tls()
    {
        return tls;
    }

    /**
     * Refuse to run without TLS: {@link #conclude()} fails unless {@link #tls(TlsConfig)} is set.
     */
    public TransportSettings requireTls(final boolean v)
    {
        requireTls = v;
        return this;
    }

    public boolean requireTls()
    {
        return requireTls;
    }

    public TransportSettings conclude()
    {
        if (requireTls && tls == null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "TLS is required but not configured: these transport " +
                "settings have no TLS config");
        }
        if (readTimeoutMs < 10)
        {
            throw bad(READ_TIMEOUT_PROP, readTimeoutMs, "at least 10 ms");
        }
        if (heartbeatMs < 1 || heartbeatMs >= readTimeoutMs)
        {
            throw bad(HEARTBEAT_PROP, heartbeatMs, "at least 1 ms and below the read timeout (" + readTimeoutMs + ")");
        }
        if (stagingCapacity < 64 * 1024 || sendCapacity < 64 * 1024)
        {
            throw bad("staging/send capacity", Math.min(stagingCapacity, sendCapacity), "at least 64 KiB");
        }
        if (socketBufferBytes < 0 || socketBufferBytes > Integer.MAX_VALUE)
        {
            throw bad(SOCKET_BUFFER_PROP, socketBufferBytes, "0 (leave to the OS) up to " + Integer.MAX_VALUE);
        }
        if (transferCap < 1)
        {
            throw bad(CloneSettings.TRANSFER_CAP_PROP, transferCap, "at least 1");
        }
        return this;
    }

    private static FerryException bad(final String name, final long value, final String expected)
    {
        return new FerryException(ErrorCode.CONFIG_MISMATCH, "setting " + name + "=" + value + " is invalid: it must be " +
            expected);
    }
}
