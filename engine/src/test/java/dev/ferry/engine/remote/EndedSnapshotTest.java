package dev.ferry.engine.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.Locator;
import dev.ferry.engine.donor.DonorService;

/**
 * A client that comes back for a snapshot that ended with an error (a file changed under the clone, say) is told that
 * cause with its UNKNOWN_SNAPSHOT, so a resume never hides why the clone stopped.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EndedSnapshotTest
{
    @TempDir
    Path dir;

    @Test
    void aSnapshotThatEndedWithAnErrorNamesItWhenAskedForAgain() throws Exception
    {
        final Path src = dir.resolve("src");
        RemoteTestSupport.smallTree(src);
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start())
        {
            final Locator real;
            try (RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), 5_000))
            {
                peer.send(RemoteTestSupport.RawPeer.clientHello());
                peer.read();
                peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_CLONE, new byte[0]));
                peer.send(RemoteTestSupport.RawPeer.locatorFrame(FrameType.COM_INIT,
                    Locator.version(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX)));
                final RemoteTestSupport.Frame locs = peer.read();
                assertEquals(FrameType.COM_RES_LOCS, locs.type);
                real = LocatorCodec.decode(new org.agrona.concurrent.UnsafeBuffer(locs.body), 0);
                peer.read(); // COM_RES_CONFIG
                peer.send(RemoteTestSupport.RawPeer.exitFrame(ErrorCode.FILE_CHANGED,
                    "donor file 'log' changed during the clone"));
                assertEquals(null, peer.read(), "the donor closes after COM_EXIT");
            }
            RemoteTestSupport.awaitCloneCount(donor, 0, "a clone that failed for good is dropped");
            try (RemoteTestSupport.RawPeer peer = new RemoteTestSupport.RawPeer(donor.address(), 5_000))
            {
                peer.send(RemoteTestSupport.RawPeer.clientHello());
                peer.read();
                peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_CLONE, new byte[0]));
                peer.send(RemoteTestSupport.RawPeer.locatorFrame(FrameType.COM_ATTACH, real.withTask(1)));
                final RemoteTestSupport.Frame answer = peer.read();
                assertEquals(ErrorCode.UNKNOWN_SNAPSHOT, answer.errorCode());
                assertTrue(answer.errorMessage().contains("has ended with FILE_CHANGED: donor file 'log' changed"),
                    answer.errorMessage());
            }
        }
    }
}
