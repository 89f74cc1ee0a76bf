package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.agrona.collections.Int2IntHashMap;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.AckCodec;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.FrameType;

import static dev.ferry.engine.remote.RemoteTestSupport.loopbackAnyPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The donor's block window ({@code ferry.donor.window.blocks}, 2048 by default): a client that acknowledges nothing
 * receives exactly that many blocks of a tree of tiny files and then nothing more (socket buffers alone would let
 * the donor queue all of them), and an acknowledgement opens the window again.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BlockWindowTest
{
    private static final int WINDOW = 2048;
    private static final int FILES = 3000;

    @TempDir
    Path base;

    @AfterEach
    void makeWritable()
    {
        RemoteTestSupport.makeWritable(base);
    }

    @Test
    void aClientThatAcknowledgesNothingGetsTheWindowAndAnAckOpensIt() throws Exception
    {
        final Path src = base.resolve("src");
        for (int d = 0; d < 10; d++)
        {
            final Path dir = Files.createDirectories(src.resolve("d" + d));
            for (int f = 0; f < FILES / 10; f++)
            {
                Files.write(dir.resolve("f" + f), new byte[] { (byte)d, (byte)f, 7 });
            }
        }
        try (DonorService donor = new DonorService(src, loopbackAnyPort(), new DonorService.Options()
            .settings(new CloneSettings().blockSize(RemoteTestSupport.BLOCK).chunkSize(RemoteTestSupport.CHUNK))).start();
            RemoteTestSupport.RawPeer peer = ConcurrentCloneTest.holdCloneSlot(donor))
        {
            peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_EXECUTE, new byte[0]));
            final Int2IntHashMap received = new Int2IntHashMap(0);
            assertEquals(WINDOW, readBlocks(peer, received, 10_000), "blocks sent while none was acknowledged");

            // acknowledge every block received: the window opens and the donor goes on
            final int chunks = received.size();
            final UnsafeBuffer ack = new UnsafeBuffer(new byte[AckCodec.lengthFor(chunks)]);
            AckCodec.putCount(ack, 0, chunks);
            final int[] i = { 0 };
            received.forEach((chunk, blocks) -> AckCodec.putEntry(ack, 0, i[0]++, chunk, blocks, 0));
            peer.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_ACK, ack.byteArray()));
            final int more = readBlocks(peer, received, 10_000);
            assertTrue(more > 0 && more <= FILES - WINDOW, "blocks after the acknowledgement: " + more);
        }
    }

    /**
     * Read DATA descriptors until the donor has been silent (pings aside) for a second.
     *
     * @return how many arrived; {@code received} keeps, per chunk, the count of its leading blocks seen.
     */
    private static int readBlocks(final RemoteTestSupport.RawPeer peer, final Int2IntHashMap received,
        final int firstMs) throws IOException
    {
        final DescriptorFlyweight d = new DescriptorFlyweight();
        int blocks = 0;
        peer.readTimeout(firstMs);
        try
        {
            while (true)
            {
                final RemoteTestSupport.Frame f = peer.read();
                if (f == null)
                {
                    return blocks;
                }
                peer.readTimeout(1_000);
                if (f.type != FrameType.COM_RES_DATA_DESC)
                {
                    continue;
                }
                d.wrap(new UnsafeBuffer(f.body), 0, f.body.length);
                if (d.type() == DescriptorFlyweight.TYPE_DATA)
                {
                    blocks++;
                    received.put(d.dataChunk(), Math.max(received.get(d.dataChunk()), d.dataBlock() + 1));
                }
            }
        }
        catch (final SocketTimeoutException silent)
        {
            return blocks;
        }
    }
}
