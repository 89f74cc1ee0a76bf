package dev.ferry.engine.remote;

import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;

import java.net.InetSocketAddress;
import java.nio.file.Path;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.FerryException;

/**
 * A clone in a child JVM, for tests that kill the recipient process:
 * {@code CloneChild HOST PORT TARGET [resume|update]} (any other fourth argument means resume, as before).
 */
public final class CloneChild
{
    private CloneChild()
    {
    }

    public static void main(final String[] args)
    {
        final boolean update = args.length > 3 && "update".equals(args[3]);
        final boolean resume = args.length > 3 && !update;
        try
        {
            final CloneResult r = new CloneClient(new InetSocketAddress(args[0], Integer.parseInt(args[1])),
                Path.of(args[2]), new CloneClient.Options().threads(2).poolBuffers(4)
                .settings(new CloneSettings().sync(true)).resume(resume).update(update)).run();
            System.out.println("done " + r.dataBytes());
        }
        catch (final FerryException ex)
        {
            System.out.println("error " + ex.describe());
            System.exit(1);
        }
    }
}
