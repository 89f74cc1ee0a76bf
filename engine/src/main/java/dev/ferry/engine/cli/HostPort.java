package dev.ferry.engine.cli;

import java.net.InetSocketAddress;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * Parses HOST:PORT (and [IPv6]:PORT).
 */
public final class HostPort
{
    private HostPort()
    {
    }

    public static InetSocketAddress parse(final String s)
    {
        final int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "'" + s + "' is not HOST:PORT");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        final int port;
        try
        {
            port = Integer.parseInt(s.substring(colon + 1));
        }
        catch (final NumberFormatException ex)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "'" + s + "' has no numeric port");
        }
        if (port < 0 || port > 65535)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "port " + port + " is out of range");
        }
        return new InetSocketAddress(host, port);
    }

    public static String format(final InetSocketAddress a)
    {
        final String h = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }
}
