package dev.ferry.engine.recipient;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The recipient finds an entry's parent through the packed manifest's {@code PathIndex}, after comparing it with the
 * previous entry and the previous entry's parent (issue 10): every order a donor may send is judged as by a set of
 * the announced directories. An unannounced parent, a parent that is a symlink or a file, and a path announced twice
 * are refused; parents announced long before, and entries after a top-level one, are found.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ManifestParentTest
{
    private static final int DIR = DescriptorFlyweight.FILE_DIRECTORY;
    private static final int FILE = DescriptorFlyweight.FILE_REGULAR;
    private static final int LINK = DescriptorFlyweight.FILE_SYMLINK;

    @TempDir
    Path base;

    private final UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024));

    @Test
    void parentsAnnouncedEarlierAreFoundInAnyOrder() throws Exception
    {
        final Path t = base.resolve("ok");
        final FileTreeRecipient r = start(t, 12);
        file(r, 0, DIR, "");
        file(r, 1, DIR, "a");
        file(r, 2, DIR, "a/b");
        file(r, 3, FILE, "a/b/c");
        file(r, 4, FILE, "t");        // top level: no parent to remember
        file(r, 5, FILE, "a/b/d");    // a parent from before the top-level entry
        file(r, 6, FILE, "a/e");      // the grandparent of the previous entry
        file(r, 7, DIR, "x");
        file(r, 8, FILE, "x/y");      // the previous entry
        file(r, 9, FILE, "a/b/f");    // far back
        file(r, 10, DIR, "a/b/g");
        file(r, 11, FILE, "a/b/g/h");
        for (final String p : new String[] { "a/b/c", "t", "a/b/d", "a/e", "x/y", "a/b/f", "a/b/g/h" })
        {
            assertTrue(Files.isRegularFile(t.resolve(p), LinkOption.NOFOLLOW_LINKS), p);
        }
        r.close();
    }

    @Test
    void aParentNeverAnnouncedIsRefusedEvenBesideOneThatWas() throws Exception
    {
        final FileTreeRecipient r = start(base.resolve("p"), 8);
        file(r, 0, DIR, "");
        file(r, 1, DIR, "a");
        file(r, 2, DIR, "a/b");
        file(r, 3, FILE, "a/b/c");
        // same parent length and the same first byte as the previous entry's parent 'a/b', but 'a/q' never came
        final FerryException ex = assertThrows(FerryException.class, () -> file(r, 4, FILE, "a/q/z"));
        assertEquals(ErrorCode.PATH_REFUSED, ex.code());
        assertTrue(ex.getMessage().contains("its parent 'a/q' was not announced as a directory"), ex.getMessage());
        assertFalse(Files.exists(base.resolve("p/a/q"), LinkOption.NOFOLLOW_LINKS));
        r.close();
    }

    @Test
    void aSymlinkOrAFileIsNoParent() throws Exception
    {
        final FileTreeRecipient r = start(base.resolve("l"), 8);
        file(r, 0, DIR, "");
        file(r, 1, DIR, "a");
        file(r, 2, LINK, "a/l");
        FerryException ex = assertThrows(FerryException.class, () -> file(r, 3, FILE, "a/l/x"));
        assertEquals(ErrorCode.PATH_REFUSED, ex.code());
        assertTrue(ex.getMessage().contains("its parent 'a/l' was not announced as a directory"), ex.getMessage());
        r.close();
        final FileTreeRecipient f = start(base.resolve("f"), 8);
        file(f, 0, DIR, "");
        file(f, 1, FILE, "g");
        ex = assertThrows(FerryException.class, () -> file(f, 2, FILE, "g/x"));
        assertEquals(ErrorCode.PATH_REFUSED, ex.code());
        f.close();
    }

    @Test
    void aPathAnnouncedTwiceIsRefused() throws Exception
    {
        final FileTreeRecipient r = start(base.resolve("d"), 8);
        file(r, 0, DIR, "");
        file(r, 1, DIR, "a");
        file(r, 2, FILE, "a/f");
        file(r, 3, FILE, "b");
        final FerryException ex = assertThrows(FerryException.class, () -> file(r, 4, FILE, "a/f"));
        assertEquals(ErrorCode.BAD_DESCRIPTOR, ex.code());
        assertTrue(ex.getMessage().contains("announced 'a/f' twice"), ex.getMessage());
        r.close();
    }

    private FileTreeRecipient start(final Path target, final int entries)
    {
        final CloneSettings settings = new CloneSettings().sync(false).conclude();
        final FileTreeRecipient r = new FileTreeRecipient(target, settings);
        r.applyBegin(CloneMode.START, Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, 1, 0, Stage.METADATA));
        r.apply(null, 0, b, 0, DescriptorFlyweight.encodeState(b, 0, Stage.METADATA, entries, 0, 0,
            settings.blockSize()), null);
        return r;
    }

    private void file(final FileTreeRecipient r, final int index, final int type, final String path)
    {
        final byte[] link = type == LINK ? "target".getBytes(StandardCharsets.UTF_8) : new byte[0];
        r.apply(null, 0, b, 0, DescriptorFlyweight.encodeFile(b, 0, index, 0, 0, type == DIR ? 0755 : 0644, type, 0, 0,
            path.getBytes(StandardCharsets.UTF_8), link), null);
    }
}
