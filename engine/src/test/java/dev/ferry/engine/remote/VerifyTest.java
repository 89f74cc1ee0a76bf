package dev.ferry.engine.remote;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.tools.DatasetGenerator;
import dev.ferry.engine.verify.VerifyClient;

import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry verify}: a finished copy matches; a flipped byte, a changed mode, a missing and an extra file are
 * each reported.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VerifyTest
{
    @TempDir
    Path dir;

    @Test
    void findsEveryKindOfDifference() throws Exception
    {
        final Path src = dir.resolve("src");
        new DatasetGenerator(5).mixed(src, 2, 700_000, 50);
        final Path dst = dir.resolve("dst");
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings().checksum(false).blockSize(65536).chunkSize(262144)))
            .start())
        {
            new CloneClient(donor.address(), dst, new CloneClient.Options()).run();
            final VerifyClient clean = new VerifyClient(donor.address(), dst, new CloneClient.Options());
            assertEquals(List.of(), clean.run());
            assertTrue(clean.blocksChecked() > 20, "blocks checked " + clean.blocksChecked());

            try (RandomAccessFile f = new RandomAccessFile(dst.resolve("large/blob-1.bin").toFile(), "rw"))
            {
                for (final long at : new long[] { 140_000, 200_000, 400_000, 699_999 }) // blocks 2, 3, 6, 10 (last)
                {
                    f.seek(at);
                    final int b = f.read();
                    f.seek(at);
                    f.write(b ^ 1);
                }
            }
            try (RandomAccessFile f = new RandomAccessFile(dst.resolve("large/blob-0.bin").toFile(), "rw"))
            {
                f.seek(70_000);
                final int b = f.read();
                f.seek(70_000);
                f.write(b ^ 1);
            }
            Files.setLastModifiedTime(dst.resolve("large/blob-0.bin"), Files.getLastModifiedTime(src.resolve("large/blob-0.bin")));
            Files.setLastModifiedTime(dst.resolve("large/blob-1.bin"), Files.getLastModifiedTime(src.resolve("large/blob-1.bin")));
            Files.setAttribute(dst.resolve("empty-file"), "unix:mode", 0600);
            Files.delete(dst.resolve("small/d0/f0.dat"));
            Files.writeString(dst.resolve("small/d0/stray.txt"), "not on the donor");
            final List<String> diffs = new VerifyClient(donor.address(), dst, new CloneClient.Options()).run();
            // the differing blocks, by number and byte offsets, contiguous ones as one range; the last block is short
            assertTrue(diffs.contains("content differs: large/blob-0.bin: block 1 differs (offsets 65536-131071; " +
                "65536-byte blocks)"), diffs.toString());
            assertTrue(diffs.contains("content differs: large/blob-1.bin: blocks 2-3, 6, 10 differ (offsets " +
                "131072-262143, 393216-458751, 655360-699999; 65536-byte blocks)"), diffs.toString());
            assertTrue(diffs.contains("mode differs: empty-file"), diffs.toString());
            assertTrue(diffs.contains("missing: small/d0/f0.dat"), diffs.toString());
            assertTrue(diffs.contains("extra: small/d0/stray.txt"), diffs.toString());
            assertTrue(diffs.contains("mtime differs: small/d0"), "adding and deleting changed the directory's mtime: " + diffs);
            assertEquals(6, diffs.size(), diffs.toString());
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (donor.cloneCount() != 0 && System.nanoTime() < deadline)
            {
                Thread.sleep(10); // the donor handles the final COM_EXIT on its own loop thread
            }
            assertEquals(0, donor.cloneCount(), "verify must release its snapshot");
        }
    }
}
