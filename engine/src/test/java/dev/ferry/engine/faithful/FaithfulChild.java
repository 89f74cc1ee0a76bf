package dev.ferry.engine.faithful;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.local.LocalClone;
import dev.ferry.engine.recipient.CloneClient;

/**
 * A child JVM for {@link FaithfulChildTest}: {@code build SRC}, {@code local SRC DST}, {@code donor SRC PORTFILE} (serves
 * until killed, writing its port to PORTFILE) or {@code clone PORT DST}. Prints "ok" on success; fails with a stack
 * trace otherwise.
 */
public final class FaithfulChild
{
    private FaithfulChild()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final CloneSettings settings = new CloneSettings().blockSize(64 * 1024).chunkSize(1L << 20).sync(true);
        switch (args[0])
        {
            case "build":
                FaithfulTree.build(Path.of(args[1]), false);
                break;
            case "local":
                new LocalClone(Path.of(args[1]), Path.of(args[2]), settings.conclude(), 2).run();
                break;
            case "donor":
                try (DonorService d = new DonorService(Path.of(args[1]), new InetSocketAddress("127.0.0.1", 0),
                    new DonorService.Options().settings(settings)).start())
                {
                    Files.writeString(Path.of(args[2] + ".tmp"), String.valueOf(d.address().getPort()));
                    Files.move(Path.of(args[2] + ".tmp"), Path.of(args[2]));
                    TimeUnit.MINUTES.sleep(5);
                }
                break;
            case "clone":
                new CloneClient(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[1])), Path.of(args[2]),
                    new CloneClient.Options().threads(2).settings(settings)).run();
                break;
            default:
                throw new IllegalArgumentException(args[0]);
        }
        System.out.println("ok");
    }
}
