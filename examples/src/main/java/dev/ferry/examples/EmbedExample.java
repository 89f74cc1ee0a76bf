package dev.ferry.examples;

import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A program embedding Ferry: serve a directory with {@link DonorService}, clone it with {@link CloneClient}, watch
 * immutable {@link CloneProgress} snapshots, and handle a failure by its {@link dev.ferry.core.protocol.FerryError}.
 * Run with {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED}:
 * {@code EmbedExample SOURCE_DIR TARGET_DIR}. One thread: the caller's.
 */
public final class EmbedExample
{
    private EmbedExample()
    {
    }

    /**
     * Clone {@code source} into {@code target} over loopback.
     *
     * @return what was copied.
     */
    public static CloneResult cloneOverLoopback(final Path source, final Path target)
    {
        // the donor's one line per clone goes where the application's System.Logger sends it; here: nowhere
        final DonorService.Options donorOptions = new DonorService.Options().logger(System.getLogger("example.donor"));
        final DonorService donor = new DonorService(source, new InetSocketAddress("127.0.0.1", 0), donorOptions).start();
        try (CloneClient client = new CloneClient(donor.address(), target, new CloneClient.Options().threads(2)
            .onProgress(EmbedExample::show, 500)))
        {
            return client.run();
        }
        catch (final FerryException ex)
        {
            switch (ex.error())
            {
                case TARGET_NOT_EMPTY:
                case TARGET_IN_USE:
                    System.err.println("choose another target: " + ex.describe());
                    break;
                default:
                    System.err.println("clone failed: " + ex.describe());
                    break;
            }
            throw ex;
        }
        finally
        {
            donor.close(Duration.ofSeconds(1)); // running clones get a second, then DONOR_SHUTDOWN
        }
    }

    private static void show(final CloneProgress p)
    {
        System.out.printf("%-9s %,d / %,d bytes, %d / %d entries%s%n", p.stage().label(), p.dataBytes(),
            p.estimatedBytes(), p.entriesDone(), p.entriesTotal(), p.reconnecting() ? ", reconnecting (attempt " +
            p.reconnectAttempt() + ": " + p.reconnectError() + ")" : "");
    }

    /**
     * {@code EmbedExample SOURCE_DIR TARGET_DIR}; without arguments, clones a small generated tree in a temporary
     * directory.
     */
    public static void main(final String[] args) throws IOException
    {
        final Path source;
        final Path target;
        if (args.length == 2)
        {
            source = Path.of(args[0]);
            target = Path.of(args[1]);
        }
        else
        {
            final Path tmp = Files.createTempDirectory("ferry-example");
            source = Files.createDirectories(tmp.resolve("src"));
            for (int i = 0; i < 20; i++)
            {
                Files.write(source.resolve("file-" + i), new byte[1000 * i]);
            }
            Files.createDirectories(source.resolve("dir/sub"));
            target = tmp.resolve("dst");
        }
        final CloneResult r = cloneOverLoopback(source, target);
        System.out.println("cloned " + r.entries() + " entries, " + r.dataBytes() + " bytes into " + target);
    }
}
