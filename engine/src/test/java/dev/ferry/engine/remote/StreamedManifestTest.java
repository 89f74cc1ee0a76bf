package dev.ferry.engine.remote;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.verify.TreeComparator;
import dev.ferry.transport.TransportSettings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Streamed manifests (protocol 5, PROTOCOL.md 6.5): the donor answers COM_INIT before its scan is done, announces
 * entries as the scan adds them and sends the data of chunks closed within what it announced, then ends the manifest
 * with the counts; the copy is the same as with a manifest sent whole, a cut while it streams is survived, an older
 * donor is served as before, and a donor that sends data of a chunk the recipient cannot know whole is refused.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StreamedManifestTest
{
    private static final int BLOCK = 16 * 1024;
    private static final long CHUNK = 64 * 1024;

    @TempDir
    Path dir;

    /** Many directories of small files (8 to a chunk), a few files of several chunks, empty files, links. */
    private Path tree() throws Exception
    {
        final Path src = dir.resolve("src");
        final java.util.Random r = new java.util.Random(5);
        for (int d = 0; d < 30; d++)
        {
            final Path sub = Files.createDirectories(src.resolve("d" + d).resolve("s" + (d % 4)));
            for (int f = 0; f < 60; f++)
            {
                final byte[] b = new byte[f % 11 == 0 ? 0 : 1 + r.nextInt(9000)];
                r.nextBytes(b);
                Files.write(sub.resolve("f" + f), b);
            }
            if (d % 10 == 3)
            {
                final byte[] big = new byte[(int)(3 * CHUNK + 777)];
                r.nextBytes(big);
                Files.write(sub.resolve("big"), big);
                Files.createSymbolicLink(sub.resolve("link"), Path.of("big"));
                Files.createLink(sub.resolve("hard"), sub.resolve("big"));
            }
        }
        // older than the racy window: no chunk waits for it, so data can move before the manifest is whole
        try (java.util.stream.Stream<Path> all = Files.walk(src))
        {
            for (final Path p : (Iterable<Path>)all::iterator)
            {
                if (!Files.isSymbolicLink(p))
                {
                    Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
                }
            }
        }
        Thread.sleep(200); // and their ctimes too
        return src;
    }

    private static DonorService donor(final Path src, final int protocolMax)
    {
        return new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .settings(new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK).filesPerChunk(8))
            .transport(new TransportSettings().readTimeoutMs(1500).heartbeatMs(200)).restartWindowMs(20_000)
            .protocols(Wire.PROTOCOL_MIN, protocolMax)).start();
    }

    private static CloneClient.Options client()
    {
        // no hash store (the tests' default): a fresh store needs the whole manifest before data, so it never streams
        return new CloneClient.Options().threads(2).keepHashes(false).settings(new CloneSettings().sync(false))
            .transport(new TransportSettings().readTimeoutMs(1500).heartbeatMs(200).connectTimeoutMs(2000))
            .restartWindowMs(20_000);
    }

    @Test
    void aStreamedCloneIsTheSameAndItsDataMovesBeforeTheManifestIsWhole() throws Exception
    {
        final Path src = tree();
        final Path dst = dir.resolve("dst");
        try (DonorService donor = donor(src, Wire.PROTOCOL_MAX))
        {
            new CloneClient(donor.address(), dst, client()).run();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            final long[] streamed = waitForEnd(donor);
            assertEquals(1, streamed[0], "the manifest streamed");
            assertTrue(streamed[1] > 0, "chunks went before the manifest was whole: " + streamed[1]);
        }
    }

    @Test
    void aProtocol4DonorSendsTheManifestWhole() throws Exception
    {
        final Path src = tree();
        final Path dst = dir.resolve("dst");
        try (DonorService donor = donor(src, 4))
        {
            new CloneClient(donor.address(), dst, client()).run();
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            Thread.sleep(200);
            assertEquals(0, donor.streamed()[0], "a protocol 4 session never streams");
        }
    }

    @Test
    void aCutWhileTheManifestStreamsIsSurvived() throws Exception
    {
        final Path src = tree();
        final Path dst = dir.resolve("dst");
        try (DonorService donor = donor(src, Wire.PROTOCOL_MAX); FaultProxy proxy = new FaultProxy(donor.address()))
        {
            proxy.arm(FaultProxy.Kind.RESET, 40_000); // well inside the manifest's 2,000 entries and their first data
            new CloneClient(proxy.address(), dst, client()).run();
            assertEquals(1, proxy.faultsFired());
            assertEquals(List.of(), TreeComparator.compare(src, dst));
        }
    }

    /**
     * @return the donor's streamed counts once the clone's end is logged (it follows the client's COM_EXIT).
     */
    private static long[] waitForEnd(final DonorService donor) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        long[] s = donor.streamed();
        while (s[0] == 0 && System.nanoTime() < deadline)
        {
            Thread.sleep(20);
            s = donor.streamed();
        }
        return s;
    }

    // --- a scripted protocol 5 donor ---

    private static CloneClient.Options scriptedClient()
    {
        return new CloneClient.Options().threads(1).keepHashes(false).settings(new CloneSettings().sync(false))
            .transport(new TransportSettings().readTimeoutMs(5_000).heartbeatMs(200));
    }

    /**
     * A scripted protocol 5 donor's start: the handshake, the STATE that opens a streamed manifest (no counts), the root.
     */
    private static void streamedStart(final RemoteTestSupport.RawPeer p, final java.util.Map<String, String> config)
        throws java.io.IOException
    {
        ScriptedDonorTest.handshake(p, ScriptedDonorTest.real(), config, true);
        p.send(ScriptedDonorTest.state(Stage.METADATA, 0, 0, 0));
        p.send(ScriptedDonorTest.file(0, 0, 0, 0755, DescriptorFlyweight.FILE_DIRECTORY, 0, 0, ""));
    }

    /** The client against a scripted donor fails, within 15 s, with the exception it throws. */
    private static FerryException refused(final ScriptedDonorTest.ScriptedDonor donor, final Path dst)
    {
        return assertTimeoutPreemptively(Duration.ofSeconds(15), () ->
            assertThrows(FerryException.class, () -> new CloneClient(donor.address(), dst, scriptedClient()).run()));
    }

    @Test
    void dataOfAChunkTheRecipientCannotKnowWholeIsRefused() throws Exception
    {
        final byte[] hello = "hello".getBytes(StandardCharsets.UTF_8);
        final Path dst = dir.resolve("dst");
        try (ScriptedDonorTest.ScriptedDonor donor = new ScriptedDonorTest.ScriptedDonor((p) ->
        {
            streamedStart(p, ScriptedDonorTest.goodConfig());
            p.send(ScriptedDonorTest.file(1, hello.length, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1, "a"));
            // chunk 0 is a batch another small file could still join: its last block is not known yet
            p.send(ScriptedDonorTest.data(1, 0, 0, 0, hello,
                DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK | DescriptorFlyweight.DATA_FLAG_CRC));
            p.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_RES_DATA, hello));
            p.read();
        }))
        {
            final FerryException ex = refused(donor, dst);
            assertEquals(ErrorCode.name(ErrorCode.BAD_DESCRIPTOR), ErrorCode.name(ex.code()), ex.getMessage());
            assertTrue(ex.getMessage().contains("chunk 0 is outside"), ex.getMessage());
        }
    }

    @Test
    void aStreamedManifestWhoseCountsDisagreeIsRefused() throws Exception
    {
        final Path dst = dir.resolve("dst");
        try (ScriptedDonorTest.ScriptedDonor donor = new ScriptedDonorTest.ScriptedDonor((p) ->
        {
            streamedStart(p, ScriptedDonorTest.goodConfig());
            p.send(ScriptedDonorTest.state(Stage.FILE_COPY, 2, 0, 0)); // it sent one entry
            p.read();
        }))
        {
            final FerryException ex = refused(donor, dst);
            assertEquals(ErrorCode.name(ErrorCode.BAD_DESCRIPTOR), ErrorCode.name(ex.code()), ex.getMessage());
        }
    }

    @Test
    void aStreamedFileThatLaysOutMoreChunksThanTheHeapHoldsIsRefusedBeforeAnyTable() throws Exception
    {
        final Path dst = dir.resolve("dst");
        final java.util.Map<String, String> config = ScriptedDonorTest.goodConfig();
        config.put("chunk_size", String.valueOf(RemoteTestSupport.BLOCK)); // a chunk of one block
        final long size = 100L * 1024 * 1024 * 1024; // 1.6 million chunks: more than a quarter of this heap's tables
        try (ScriptedDonorTest.ScriptedDonor donor = new ScriptedDonorTest.ScriptedDonor((p) ->
        {
            streamedStart(p, config);
            p.send(ScriptedDonorTest.file(1, size, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0,
                (int)(size / RemoteTestSupport.BLOCK), "huge"));
            p.read();
        }))
        {
            final FerryException ex = refused(donor, dst);
            assertEquals(ErrorCode.name(ErrorCode.CONFIG_MISMATCH), ErrorCode.name(ex.code()), ex.getMessage());
        }
    }

    @Test
    void aStreamedManifestThatEndsWithTheWrongChunkCountIsRefusedAndLeavesNoCompleteJournal() throws Exception
    {
        final byte[] hello = "hello".getBytes(StandardCharsets.UTF_8);
        final Path dst = dir.resolve("dst");
        try (ScriptedDonorTest.ScriptedDonor donor = new ScriptedDonorTest.ScriptedDonor((p) ->
        {
            streamedStart(p, ScriptedDonorTest.goodConfig());
            p.send(ScriptedDonorTest.file(1, hello.length, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1, "a"));
            p.send(ScriptedDonorTest.state(Stage.FILE_COPY, 2, 7, hello.length)); // its entries lay out one chunk
            p.read();
        }))
        {
            final FerryException ex = refused(donor, dst);
            assertEquals(ErrorCode.name(ErrorCode.BAD_DESCRIPTOR), ErrorCode.name(ex.code()), ex.getMessage());
            assertTrue(ex.getMessage().contains("7 chunks"), ex.getMessage());
            assertEquals(null, dev.ferry.engine.recipient.RecipientJournal.load(
                dst.resolve(dev.ferry.engine.layout.ManifestScanner.STATE_DIR)), "no journal a resume would trust");
        }
    }

    @Test
    void aLargeFilesChunksAreWholeAsSoonAsItIsAnnounced() throws Exception
    {
        final int block = RemoteTestSupport.BLOCK; // the scripted configuration's
        final byte[] body = new byte[block];
        new java.util.Random(3).nextBytes(body);
        final Path dst = dir.resolve("dst");
        final long chunk = dev.ferry.engine.remote.RemoteTestSupport.CHUNK;
        final int blocks = (int)(chunk / block);
        try (ScriptedDonorTest.ScriptedDonor donor = new ScriptedDonorTest.ScriptedDonor((p) ->
        {
            streamedStart(p, ScriptedDonorTest.goodConfig());
            p.send(ScriptedDonorTest.file(1, chunk, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1, "big"));
            for (int b = 0; b < blocks; b++)
            {
                // before the manifest ends: a file of a whole chunk has a chunk of its own, closed at once
                p.send(ScriptedDonorTest.data(1, 0, b, (long)b * block, body, (b == blocks - 1 ?
                    DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK : 0) | DescriptorFlyweight.DATA_FLAG_CRC));
                p.send(RemoteTestSupport.RawPeer.frame(FrameType.COM_RES_DATA, body));
            }
            p.send(ScriptedDonorTest.state(Stage.FILE_COPY, 2, 1, chunk));
            p.send(ScriptedDonorTest.complete(0, chunk));
            while (true)
            {
                final RemoteTestSupport.Frame f = p.read();
                if (f == null || f.type == FrameType.COM_EXIT)
                {
                    break;
                }
            }
        }))
        {
            assertTimeoutPreemptively(Duration.ofSeconds(15), () -> new CloneClient(donor.address(), dst,
                scriptedClient()).run());
            donor.assertScriptPassed();
            final byte[] copy = Files.readAllBytes(dst.resolve("big"));
            assertEquals(chunk, copy.length);
            for (int b = 0; b < blocks; b++)
            {
                assertArrayEquals(body, Arrays.copyOfRange(copy, b * block, (b + 1) * block), "block " + b);
            }
        }
    }
}
