package dev.ferry.engine.cli;

import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.layout.TestFiles;
import dev.ferry.engine.recipient.FileTreeRecipient;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Set-user-ID and set-group-ID bits through {@code ferry clone}: kept by default (as root the owner is cloned too, so
 * a setuid file keeps exactly the owner the donor declared), stripped always with {@code --no-setuid}; directories
 * keep setgid; the sticky bit stays.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NoSetuidTest
{
    @TempDir
    Path dir;

    @Test
    void byDefaultTheBitsAreKeptWithTheirOwner() throws Exception
    {
        final Path dst = cloneWith(dir.resolve("dst"));
        assertEquals(04755, TestFiles.mode(dst.resolve("suid")));
        assertEquals(02711, TestFiles.mode(dst.resolve("sgid")));
        assertEquals(07750, TestFiles.mode(dst.resolve("all")));
        assertEquals(Files.getAttribute(dir.resolve("src/suid"), "unix:uid"), Files.getAttribute(dst.resolve("suid"), "unix:uid"));
        assertEquals(02755, TestFiles.mode(dst.resolve("gdir")));
        assertEquals(0644, TestFiles.mode(dst.resolve("plain")));
    }

    @Test
    void noSetuidStripsThemWhoeverRunsTheClone() throws Exception
    {
        final Path dst = cloneWith(dir.resolve("dst"), "--no-setuid");
        assertEquals(0755, TestFiles.mode(dst.resolve("suid")));
        assertEquals(0711, TestFiles.mode(dst.resolve("sgid")));
        assertEquals(01750, TestFiles.mode(dst.resolve("all")));
        assertEquals(02755, TestFiles.mode(dst.resolve("gdir")));
        assertEquals(0644, TestFiles.mode(dst.resolve("plain")));
    }

    private Path cloneWith(final Path dst, final String... extra) throws Exception
    {
        final Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("gdir"));
        for (final String f : new String[] { "suid", "sgid", "all", "plain", "gdir/inside" })
        {
            Files.writeString(src.resolve(f), "#!/bin/sh\necho " + f + "\n");
        }
        Files.setAttribute(src.resolve("suid"), "unix:mode", 04755);
        Files.setAttribute(src.resolve("sgid"), "unix:mode", 02711);
        Files.setAttribute(src.resolve("all"), "unix:mode", 07750);
        Files.setAttribute(src.resolve("plain"), "unix:mode", 0644);
        Files.setAttribute(src.resolve("gdir"), "unix:mode", 02755);
        assertEquals(04755, TestFiles.mode(src.resolve("suid")), "the source must hold the bits");
        try (DonorService donor = new DonorService(src, new InetSocketAddress("127.0.0.1", 0),
            new DonorService.Options()).start())
        {
            final String[] base = { "clone", "--from", "127.0.0.1:" + donor.address().getPort(), "--to", dst.toString(),
                "--progress", "none" };
            final String[] args = new String[base.length + extra.length];
            System.arraycopy(base, 0, args, 0, base.length);
            System.arraycopy(extra, 0, args, base.length, extra.length);
            final StringWriter out = new StringWriter();
            final StringWriter err = new StringWriter();
            assertEquals(0, FerryMain.run(args, new PrintWriter(out), new PrintWriter(err)), err.toString());
        }
        assertFalse(FileTreeRecipient.isIncomplete(dst));
        return dst;
    }
}
