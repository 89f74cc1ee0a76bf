package dev.ferry.transport;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.transport.TlsTestSupport.Pair;
import dev.ferry.transport.TlsTestSupport.Recorder;
import dev.ferry.transport.TlsTestSupport.Sender;

/**
 * Run in a child JVM by {@link TlsKeyUpdateTest} with a tiny {@code jdk.tls.keyLimits}, so that TLS 1.3 KeyUpdate
 * messages (which a long clone meets after 2^37 bytes per connection) happen every few MB: sends
 * {@code args[2]} MiB of bodies over one TLS connection and exits 0 if every byte arrived in order.
 */
public final class TlsKeyUpdateChild
{
    private static final int BODY = 256 * 1024;

    private TlsKeyUpdateChild()
    {
    }

    public static void main(final String[] args)
    {
        final Path cert = Path.of(args[0]);
        final Path key = Path.of(args[1]);
        final int mib = Integer.parseInt(args[2]);
        final byte[] source = new byte[mib * 1024 * 1024];
        new SplittableRandom(3).nextBytes(source);
        final UnsafeBuffer sourceBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(source.length));
        sourceBuffer.putBytes(0, source);
        final TransportSettings s = new TransportSettings().tls(TlsConfig.server(cert, key, null)).conclude();
        final TransportSettings c = new TransportSettings().tls(TlsConfig.client(cert, null, null)).conclude();
        final Sender sender = new Sender();
        final int count = source.length / BODY;
        for (int i = 0; i < count; i++)
        {
            sender.buffer(sourceBuffer, i * BODY, BODY);
        }
        final Recorder serverSide = new Recorder();
        serverSide.pump = sender::pump;
        final Recorder clientSide = new Recorder();
        try (Pair pair = new Pair(s, c, serverSide, clientSide))
        {
            pair.drive(() -> pair.server != null);
            sender.connection = pair.server;
            sender.pump(pair.server);
            pair.drive(() -> clientSide.bodyCount == count || clientSide.closed() || serverSide.closed());
            if (clientSide.closed() || serverSide.closed())
            {
                System.out.println("FAILED: closed: " + clientSide.closeMessage + " / " + serverSide.closeMessage);
                System.exit(1);
            }
            if (!Arrays.equals(source, 0, count * BODY, clientSide.bodies.toByteArray(), 0, count * BODY))
            {
                System.out.println("FAILED: bytes differ");
                System.exit(1);
            }
        }
        System.out.println("OK " + count + " bodies");
        System.exit(0);
    }
}
