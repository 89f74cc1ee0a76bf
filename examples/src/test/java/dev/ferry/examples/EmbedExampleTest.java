package dev.ferry.examples;

import dev.ferry.engine.recipient.CloneResult;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * CI runs the example program (what README shows) through this test.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EmbedExampleTest
{
    @TempDir
    Path dir;

    @Test
    void theExampleClones() throws Exception
    {
        final Path src = Files.createDirectories(dir.resolve("src"));
        Files.write(src.resolve("a"), new byte[] { 1, 2, 3 });
        Files.createDirectories(src.resolve("d"));
        final byte[] b = new byte[70_000];
        java.util.Arrays.fill(b, (byte)7); // not zeros: an all-zero block is a hole and does not travel
        Files.write(src.resolve("d/b"), b);
        EmbedExample.main(new String[] { src.toString(), dir.resolve("dst").toString() });
        assertArrayEquals(Files.readAllBytes(src.resolve("d/b")), Files.readAllBytes(dir.resolve("dst/d/b")));
        assertFalse(Files.exists(dir.resolve("dst/.ferry")));
        final CloneResult again = EmbedExample.cloneOverLoopback(src, dir.resolve("dst2"));
        assertEquals(70_003, again.dataBytes());
    }
}
