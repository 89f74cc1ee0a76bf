package dev.ferry.engine.recipient;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.donor.DonorService;

/** What the hash store's tests share: a donor of small blocks, a two-connection clone, and file edits. */
final class HashStoreSupport
{
    static final int BLOCK = 64 * 1024;
    static final int PIECE = DescriptorFlyweight.pieceSize(BLOCK);

    private HashStoreSupport()
    {
    }

    static DonorService donor(final Path src)
    {
        return new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .settings(new CloneSettings().blockSize(BLOCK).chunkSize(4L * BLOCK)).restartWindowMs(60_000)).start();
    }

    static CloneResult cloneInto(final DonorService d, final Path dst, final CloneClient.Options o)
    {
        return new CloneClient(d.address(), dst, o.threads(2)).run();
    }

    static byte[] random(final Random r, final int n)
    {
        final byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** A manifest entry for the file {@code rel} under {@code root}, at its size now. */
    static TargetEntry entry(final Path root, final String rel) throws IOException
    {
        final TargetEntries es = new TargetEntries(root);
        return es.add(rel.getBytes(StandardCharsets.UTF_8), DescriptorFlyweight.FILE_REGULAR,
            Files.size(root.resolve(rel)), 0644, 0, null, 0, 0, 0, 0, -1, 0, null);
    }
}
