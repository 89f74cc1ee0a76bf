package dev.ferry.jmh;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The recipient's receive path, measured two ways over loopback: read the socket into a direct buffer and write it at
 * its offset with positional writes (what Ferry does, in 256 KiB or 64 KiB slices), or
 * {@code FileChannel.transferFrom(socket)}. Not a JMH benchmark (it needs a socket pair, a file system and a fixed
 * volume): {@code java -cp jmh/target/ferry-benchmarks.jar dev.ferry.jmh.ReceivePathComparison [DIR]} writes 1 GiB per
 * method and round into DIR (default java.io.tmpdir), alternating methods, three rounds, {@code sync} between runs.
 */
public final class ReceivePathComparison
{
    private static final int BLOCK = 1 << 20;
    private static final long TOTAL = 1L << 30;

    private ReceivePathComparison()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        for (int round = 0; round < 3; round++)
        {
            for (final String mode : new String[] { "pwrite256k", "pwrite64k", "transferFrom" })
            {
                final double seconds = run(dir, mode);
                System.out.printf(Locale.ROOT, "round %d %-12s %.2f GB/s%n", round, mode, TOTAL / seconds / 1e9);
                new ProcessBuilder("sync").inheritIO().start().waitFor();
            }
        }
    }

    private static double run(final Path dir, final String mode) throws Exception
    {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0)))
        {
            final Thread sender = new Thread(() -> send(server));
            sender.start();
            final Path file = Files.createTempFile(dir, "receive-path", ".bin");
            final long t0 = System.nanoTime();
            try (SocketChannel socket = server.accept();
                FileChannel out = FileChannel.open(file, StandardOpenOption.WRITE))
            {
                if (mode.startsWith("pwrite"))
                {
                    positionalWrites(socket, out, mode.equals("pwrite64k") ? 64 * 1024 : 256 * 1024);
                }
                else
                {
                    long position = 0;
                    while (position < TOTAL)
                    {
                        final long n = out.transferFrom(socket, position, Math.min(BLOCK, TOTAL - position));
                        if (n <= 0)
                        {
                            break;
                        }
                        position += n;
                    }
                }
            }
            final double seconds = (System.nanoTime() - t0) / 1e9;
            sender.join();
            Files.delete(file);
            return seconds;
        }
    }

    private static void positionalWrites(final SocketChannel socket, final FileChannel out, final int slice)
        throws IOException
    {
        final ByteBuffer block = ByteBuffer.allocateDirect(BLOCK);
        long position = 0;
        while (position < TOTAL)
        {
            block.clear();
            while (block.hasRemaining() && socket.read(block) >= 0)
            {
                // fill one block
            }
            final int end = block.position();
            int from = 0;
            while (from < end)
            {
                final int to = Math.min(end, from + slice);
                block.limit(to).position(from);
                while (block.hasRemaining())
                {
                    position += out.write(block, position);
                }
                from = to;
            }
        }
    }

    private static void send(final ServerSocketChannel server)
    {
        try (SocketChannel s = SocketChannel.open(server.getLocalAddress()))
        {
            final ByteBuffer b = ByteBuffer.allocateDirect(BLOCK);
            long left = TOTAL;
            while (left > 0)
            {
                b.clear();
                if (left < BLOCK)
                {
                    b.limit((int)left);
                }
                while (b.hasRemaining())
                {
                    left -= s.write(b);
                }
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
