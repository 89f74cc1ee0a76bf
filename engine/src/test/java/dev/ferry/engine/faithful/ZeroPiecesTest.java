package dev.ferry.engine.faithful;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.local.LocalClone;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Files that are not sparse but hold pieces of zeros: a small block's zero pieces do not travel, so the recipient
 * never writes a file's zero tail, nor a file of zeros at all (it is not even created by the copy), and FILE SYNC
 * must give each its length ({@code FileSyncStage#fixLength}). 300 files of zeros take FILE SYNC's striped threads
 * (more than 256 regular files); a file with data then a zero tail, and one of five zero bytes, take the rest.
 */
class ZeroPiecesTest
{
    private static final int ZERO_FILES = 300;

    @TempDir
    Path dir;

    private Path build() throws Exception
    {
        final Path src = Files.createDirectories(dir.resolve("src"));
        final Path zeros = Files.createDirectories(src.resolve("zeros"));
        for (int i = 0; i < ZERO_FILES; i++)
        {
            Files.write(zeros.resolve("z" + i), new byte[16384 * (1 + i % 4)]); // written, not holes
        }
        final byte[] tail = new byte[40_000 + 25_536];
        final byte[] data = new byte[40_000];
        new Random(5).nextBytes(data);
        System.arraycopy(data, 0, tail, 0, data.length);
        Files.write(src.resolve("data-then-zeros"), tail);
        Files.write(src.resolve("five"), new byte[5]);
        return src;
    }

    private static void check(final Path src, final Path dst) throws Exception
    {
        assertEquals(List.of(), TreeComparator.compare(src, dst));
        for (int i = 0; i < ZERO_FILES; i++)
        {
            assertEquals(16384L * (1 + i % 4), Files.size(dst.resolve("zeros/z" + i)), "zeros/z" + i);
        }
        assertArrayEquals(Files.readAllBytes(src.resolve("data-then-zeros")),
            Files.readAllBytes(dst.resolve("data-then-zeros")));
        assertArrayEquals(new byte[5], Files.readAllBytes(dst.resolve("five")));
    }

    @Test
    void remoteCloneGivesZeroFilesAndZeroTailsTheirLength() throws Exception
    {
        final Path src = build();
        final Path dst = dir.resolve("dst");
        try (DonorService d = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().settings(new CloneSettings())).start())
        {
            new CloneClient(d.address(), dst, new CloneClient.Options().threads(2)).run();
        }
        check(src, dst);
    }

    @Test
    void localCloneGivesZeroFilesAndZeroTailsTheirLength() throws Exception
    {
        final Path src = build();
        final Path dst = dir.resolve("local");
        new LocalClone(src, dst, new CloneSettings().conclude(), 2).run();
        check(src, dst);
    }
}
