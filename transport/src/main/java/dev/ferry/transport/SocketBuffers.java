package dev.ferry.transport;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.NetworkChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Socket buffer sizes for long fat links (issue 13). A TCP connection moves at most its window per round trip, and
 * the window is bounded by the receiver's buffer, so 50 ms at 100 MB/s needs about 5 MB of buffer in all.
 * <p>
 * <b>Rule</b>, per direction: Ferry asks for {@link TransportSettings#socketBufferBytes()} (default 4 MiB) with
 * {@code SO_RCVBUF} / {@code SO_SNDBUF} only where that raises the ceiling. On Linux an explicit size switches off
 * the kernel's buffer autotuning for that socket, which grows up to the third value of {@code net.ipv4.tcp_rmem}
 * ({@code tcp_wmem} for sending), and it is clamped to {@code net.core.rmem_max} ({@code wmem_max}): so Ferry sets a
 * size only when the autotuning ceiling is below the request, and leaves the socket to autotuning otherwise. Where
 * there is no {@code /proc} (not Linux) it always asks. {@link #describe} says what was decided and what the OS
 * granted. The receive size is set before connect (client) and on the listening socket (donor, inherited by accepted
 * sockets), so the window scale is negotiated for it.
 * <p>
 * Thread-safe: static methods; the ceilings are read once.
 */
public final class SocketBuffers
{
    /** Ceilings of autotuning (bytes), or -1 where unknown (not Linux). */
    private static final long RECEIVE_AUTOTUNE_MAX = autotuneMax("/proc/sys/net/ipv4/tcp_rmem");
    private static final long SEND_AUTOTUNE_MAX = autotuneMax("/proc/sys/net/ipv4/tcp_wmem");

    private SocketBuffers()
    {
    }

    /**
     * @return true if a buffer of {@code request} bytes should be asked for, given the autotuning ceiling (-1:
     * unknown): a request, and no autotuning known to reach it.
     */
    static boolean shouldSet(final long request, final long autotuneMax)
    {
        return request > 0 && (autotuneMax < 0 || autotuneMax < request);
    }

    /**
     * Set the buffers the rule asks for on a socket not yet connected (or a listening socket not yet bound).
     */
    public static void apply(final NetworkChannel channel, final TransportSettings settings) throws IOException
    {
        final long request = settings.socketBufferBytes();
        final int size = (int)Math.min(Integer.MAX_VALUE, request);
        if (shouldSet(request, RECEIVE_AUTOTUNE_MAX))
        {
            channel.setOption(StandardSocketOptions.SO_RCVBUF, size);
        }
        if (shouldSet(request, SEND_AUTOTUNE_MAX) && channel.supportedOptions().contains(StandardSocketOptions.SO_SNDBUF))
        {
            channel.setOption(StandardSocketOptions.SO_SNDBUF, size);
        }
    }

    /**
     * @return one line: per direction, whether the size was set and what the OS reports now, or that autotuning keeps
     * it (with its ceiling).
     */
    public static String describe(final NetworkChannel channel, final TransportSettings settings)
    {
        final long request = settings.socketBufferBytes();
        return "socket buffers (requested " + request + " bytes): " +
            direction(channel, StandardSocketOptions.SO_RCVBUF, "SO_RCVBUF", request, RECEIVE_AUTOTUNE_MAX,
            "net.ipv4.tcp_rmem") + "; " +
            direction(channel, StandardSocketOptions.SO_SNDBUF, "SO_SNDBUF", request, SEND_AUTOTUNE_MAX,
            "net.ipv4.tcp_wmem");
    }

    private static String direction(final NetworkChannel channel, final java.net.SocketOption<Integer> option,
        final String name, final long request, final long autotuneMax, final String sysctl)
    {
        if (!shouldSet(request, autotuneMax))
        {
            return name + " left to autotuning" + (request > 0 ? " (up to " + autotuneMax + " bytes, " + sysctl +
                ", not below the request)" : " (no request)");
        }
        try
        {
            if (!channel.supportedOptions().contains(option))
            {
                return name + " not supported here";
            }
            return name + " set, the OS granted " + channel.getOption(option) + " bytes" +
                (autotuneMax >= 0 ? " (autotuning would stop at " + autotuneMax + ", " + sysctl + ")" : "");
        }
        catch (final IOException ex)
        {
            return name + " unknown (" + ex.getMessage() + ")";
        }
    }

    private static long autotuneMax(final String file)
    {
        try
        {
            final String[] f = Files.readString(Path.of(file)).trim().split("\\s+");
            return f.length == 3 ? Long.parseLong(f[2]) : -1;
        }
        catch (final IOException | RuntimeException ex)
        {
            return -1;
        }
    }
}
