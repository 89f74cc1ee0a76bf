package dev.ferry.engine.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.engine.donor.DonorService;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --max-rate} values and the donor's {@code --rate-file}: parsing, and a running donor's limits changed by
 * editing the file.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RateFileTest
{
    @TempDir
    Path dir;

    @Test
    void ratesAreBytesPerSecondInPowersOfAThousand()
    {
        assertEquals(30_000_000, Units.parseRate("30M"));
        assertEquals(1_000_000_000, Units.parseRate("1g"));
        assertEquals(512_000, Units.parseRate("512k"));
        assertEquals(4096, Units.parseRate("4096"));
        assertEquals(0, Units.parseRate("0"));
        for (final String bad : new String[] { "-1M", "fast", "", "99999999999T" })
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Units.parseRate(bad));
            assertTrue(ex.getMessage().contains("30M"), ex.getMessage());
        }
    }

    @Test
    void aRateFileNamesEitherKeyAndRefusesAnythingElse()
    {
        assertEquals(new RateFile.Rates(30_000_000, -1), RateFile.parse("# limits\nmax-rate = 30M\n"));
        assertEquals(new RateFile.Rates(-1, 0), RateFile.parse("max-total-rate=0"));
        assertEquals(new RateFile.Rates(1_000, 2_000), RateFile.parse("max-rate=1k\nmax-total-rate=2k # both\n"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RateFile.parse("max-rat=3M")).getMessage()
            .contains("line 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RateFile.parse("\nmax-rate=lots")).getMessage()
            .contains("line 2"));
    }

    @Test
    void aRunningDonorTakesItsLimitsFromTheFileWhenItChanges() throws Exception
    {
        final Path root = Files.createDirectories(dir.resolve("root"));
        final Path file = dir.resolve("rates");
        final StringWriter log = new StringWriter();
        try (DonorService donor = new DonorService(root, new java.net.InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options().maxRate(5_000_000)).start())
        {
            final RateFile rates = new RateFile(file, donor, new PrintWriter(log));
            assertFalse(rates.poll(), "no file: nothing changes");
            assertEquals(5_000_000, donor.maxRate());
            Files.writeString(file, "max-rate=30M\nmax-total-rate=100M\n");
            assertTrue(rates.poll());
            assertEquals(30_000_000, donor.maxRate());
            assertEquals(100_000_000, donor.maxTotalRate());
            assertFalse(rates.poll(), "unchanged: not read again");
            Files.writeString(file, "max-rate=slow\n");
            Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
            assertFalse(rates.poll(), "a bad file changes nothing");
            assertEquals(30_000_000, donor.maxRate());
            Files.writeString(file, "max-rate=0\n");
            Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 10_000));
            assertTrue(rates.poll());
            assertEquals(0, donor.maxRate(), "0: no limit");
            assertEquals(100_000_000, donor.maxTotalRate(), "a key the file does not name keeps its value");
            assertTrue(log.toString().contains("rates unchanged"), log.toString());
        }
    }
}
