package dev.ferry.engine.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.spi.Locator;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.CloneClient;

/**
 * A client killed mid-clone leaves its snapshot waiting out the restart window; with {@code --max-clones 1} that
 * must not refuse the next clone while nothing runs: the idle snapshot gives up its slot.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AbandonedSnapshotTest
{
    @TempDir
    Path dir;

    @Test
    void anIdleSnapshotDoesNotHoldTheOnlyCloneSlot() throws Exception
    {
        final Path src = dir.resolve("src");
        RemoteTestSupport.smallTree(src);
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().maxClones(1).restartWindowMs(600_000)).start())
        {
            try (RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), 5_000))
            {
                peer.send(RemoteTestSupport.RawPeer.clientHello());
                peer.read();
                peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_CLONE, new byte[0]));
                peer.send(RemoteTestSupport.RawPeer.locatorFrame(FrameType.COM_INIT,
                    Locator.version(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX)));
                assertEquals(FrameType.COM_RES_LOCS, peer.read().type);
            } // the client dies: its snapshot now waits for a restart that never comes
            RemoteTestSupport.awaitCloneCount(donor, 1, "the abandoned snapshot is held for its restart window");
            final long abandoned = donor.snapshotIds()[0];
            new CloneClient(donor.address(), dir.resolve("dst"), new CloneClient.Options()).run();
            assertEquals(TestFiles.listAll(src), TestFiles.listAll(dir.resolve("dst")));
            RemoteTestSupport.awaitCloneCount(donor, 0, "the finished clone and the dropped snapshot are both gone");
            assertNotEquals(0, abandoned);
        }
    }
}
