package dev.ferry.engine.recipient;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.cli.FerryMain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@code --resume} of a target whose resume journal a protocol 1 build wrote (its FILE descriptors have no owners,
 * xattrs, hard links or holes) is refused before anything is read from a donor or written to the target, with
 * VERSION_MISMATCH and what to do: start again into an empty directory. A journal with a format this build does not
 * know is refused the same way.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ResumeJournalFormatTest
{
    private static final long MAGIC = 0x4C4E524A_59525246L;

    @TempDir
    Path dir;

    @Test
    void aProtocol1JournalIsRefusedWithWhatToDo() throws Exception
    {
        final Path target = dir.resolve("t");
        writeJournal(target, 0, protocol1File(0, "a", 3));
        final byte[] manifest = Files.readAllBytes(target.resolve(".ferry/manifest"));
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        // port 1 on loopback: nothing listens, so a client that went as far as connecting would fail with NETWORK
        final int code = FerryMain.run(new String[] { "clone", "--from", "127.0.0.1:1", "--to", target.toString(),
            "--resume", "--progress=none" }, new PrintWriter(out), new PrintWriter(err));
        assertEquals(FerryMain.EXIT_FAILURE, code, err.toString());
        final String[] lines = err.toString().strip().split("\n");
        final String last = lines[lines.length - 1];
        assertTrue(last.startsWith("ferry: error: VERSION_MISMATCH: the interrupted clone in " + target +
            " was written by an older Ferry (protocol 1), whose resume journal this build cannot continue"), last);
        assertTrue(last.contains("start the clone again into an empty directory (remove " + target +
            " or choose another"), last);
        // nothing touched: the journal and the file are as they were
        assertArrayEquals(manifest, Files.readAllBytes(target.resolve(".ferry/manifest")));
        assertEquals("abc", Files.readString(target.resolve("a")));
    }

    @Test
    void aJournalOfAnUnknownFormatIsRefused() throws Exception
    {
        final Path target = dir.resolve("t");
        writeJournal(target, 99, protocol1File(0, "a", 3));
        final FerryException ex = assertThrows(FerryException.class,
            () -> RecipientJournal.load(target.resolve(".ferry")));
        assertEquals(ErrorCode.VERSION_MISMATCH, ex.code());
        assertTrue(ex.describe().contains("a Ferry whose resume journal has format 99 (this build reads format " +
            RecipientJournal.DESCRIPTOR_FORMAT + ")"), ex.describe());
        assertTrue(ex.describe().contains("start the clone again into an empty directory"), ex.describe());
    }

    @Test
    void aLegacyJournalOfThisLayoutIsStillRead() throws Exception
    {
        // a protocol 2 build before the format field wrote 0 there; its descriptors are this build's
        final Path target = dir.resolve("t");
        writeJournal(target, 0, null);
        final RecipientJournal.Loaded loaded = RecipientJournal.load(target.resolve(".ferry"));
        assertEquals(2, loaded.descriptors.size());
    }

    /** A complete journal: STATE(METADATA), the FILE descriptor if any, STATE(FILE_COPY). */
    private static void writeJournal(final Path target, final int format, final byte[] file) throws Exception
    {
        Files.createDirectories(target.resolve(".ferry"));
        Files.writeString(target.resolve("a"), "abc");
        final List<byte[]> ds = file == null ? List.of(state(Stage.METADATA, 0), state(Stage.FILE_COPY, 0)) :
            List.of(state(Stage.METADATA, 1), file, state(Stage.FILE_COPY, 1));
        int len = 48;
        for (final byte[] d : ds)
        {
            len += 4 + d.length;
        }
        final ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC).putLong(42).putLong(64L << 20).putInt(1 << 20).putInt(4096).putLong(ds.size())
            .putInt(1).putInt(format);
        for (final byte[] d : ds)
        {
            b.putInt(d.length).put(d);
        }
        Files.write(target.resolve(".ferry/manifest"), b.array());
    }

    /** STATE: the same 40 bytes in protocol 1 and 2. */
    private static byte[] state(final int stage, final long files)
    {
        final ByteBuffer b = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 1).putInt(4, stage).putLong(8, files).putLong(16, files).putLong(24, 3).putInt(32, 1 << 20);
        return b.array();
    }

    /** Protocol 1's FILE layout: 40 bytes of fields, then the path and the (empty) target as uint16-prefixed strings. */
    private static byte[] protocol1File(final int index, final String path, final long size)
    {
        final byte[] p = path.getBytes(StandardCharsets.UTF_8);
        final ByteBuffer b = ByteBuffer.allocate(44 + p.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 2).putInt(4, index).putLong(8, size).putLong(16, 1_600_000_000_000_000_000L).putInt(24, 0644)
            .putInt(28, 1).putInt(32, 0).putInt(36, 1);
        b.putShort(40, (short)p.length);
        b.put(42, p);
        b.putShort(42 + p.length, (short)0);
        return b.array();
    }
}
