package dev.ferry.engine.recipient;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.layout.TestFiles;

import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_DIRECTORY;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_HARDLINK;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_REGULAR;
import static dev.ferry.core.protocol.DescriptorFlyweight.NO_LINK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol 2 FILE descriptors from a donor that may be hostile (issue 9): a hard link may only name an earlier
 * regular file of this clone; xattrs above the documented caps are refused with BAD_DESCRIPTOR naming the field and
 * the cap; a name that is not UTF-8 and the root entry are applied exactly.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaithfulDescriptorTest
{
    private static final int BLOCK = 4096;

    @TempDir
    Path base;

    private Path target;
    private FileTreeRecipient recipient;
    private Locator locator;
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(512 * 1024));

    @BeforeEach
    void begin()
    {
        target = base.resolve("target");
        recipient = new FileTreeRecipient(target, new CloneSettings().blockSize(BLOCK).chunkSize(4 * BLOCK).sync(false)
            .conclude());
        recipient.applyBegin(CloneMode.VERSION, null);
        locator = Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, 77, 0, Stage.METADATA);
        recipient.applyBegin(CloneMode.START, locator);
    }

    @AfterEach
    void end()
    {
        recipient.close();
        TestFiles.makeWritable(base);
    }

    @Test
    void hardLinkToADirectoryIsRefused()
    {
        state(Stage.METADATA, 3);
        file(0, new byte[0], FILE_DIRECTORY, 0, NO_LINK, 0, new byte[0]);
        file(1, "d".getBytes(), FILE_DIRECTORY, 0, NO_LINK, 0, new byte[0]);
        final FerryException ex = assertThrows(FerryException.class,
            () -> file(2, "l".getBytes(), FILE_HARDLINK, 0, 1, 0, new byte[0]));
        assertEquals(ErrorCode.BAD_DESCRIPTOR, ex.code(), ex.getMessage());
        assertTrue(ex.getMessage().contains("not an earlier regular file"), ex.getMessage());
    }

    @Test
    void xattrsAboveTheCapsAreRefusedNamingTheCap()
    {
        state(Stage.METADATA, 2);
        file(0, new byte[0], FILE_DIRECTORY, 0, NO_LINK, 0, new byte[0]);
        final ByteArrayOutputStream many = new ByteArrayOutputStream();
        for (int i = 0; i <= DescriptorFlyweight.MAX_XATTRS; i++)
        {
            DescriptorFlyweight.appendXattr(many, ("user.a" + i).getBytes(), new byte[1]);
        }
        FerryException ex = assertThrows(FerryException.class, () -> file(1, "f".getBytes(), FILE_REGULAR, 0, NO_LINK,
            DescriptorFlyweight.MAX_XATTRS + 1, many.toByteArray()));
        assertEquals(ErrorCode.BAD_DESCRIPTOR, ex.code(), ex.getMessage());
        assertTrue(ex.getMessage().contains("xattr count 65 exceeds the cap of 64"), ex.getMessage());

        final ByteArrayOutputStream big = new ByteArrayOutputStream();
        DescriptorFlyweight.appendXattr(big, "user.big".getBytes(), new byte[DescriptorFlyweight.MAX_XATTR_VALUE_BYTES + 1]);
        ex = assertThrows(FerryException.class, () -> file(1, "f".getBytes(), FILE_REGULAR, 0, NO_LINK, 1,
            big.toByteArray()));
        assertEquals(ErrorCode.BAD_DESCRIPTOR, ex.code(), ex.getMessage());
        assertTrue(ex.getMessage().contains("exceeds the cap of 65536"), ex.getMessage());
    }

    @Test
    void rawNamesAndTheRootEntryAreAppliedExactly() throws IOException
    {
        final byte[] name = { 'x', (byte)0xff, (byte)0x80, '\\', 'y' };
        final ByteArrayOutputStream x = new ByteArrayOutputStream();
        DescriptorFlyweight.appendXattr(x, "user.k".getBytes(), new byte[] { 0, (byte)0xfe });
        state(Stage.METADATA, 3);
        file(0, new byte[0], FILE_DIRECTORY, 0711, NO_LINK, 0, new byte[0], 1_500_000_000_000_000_001L);
        file(1, name, FILE_REGULAR, 0640, NO_LINK, 1, x.toByteArray(), 1_400_000_000_000_000_002L);
        file(2, "h".getBytes(), FILE_HARDLINK, 0, 1, 0, new byte[0], 0);
        state(Stage.FILE_COPY, 3);
        recipient.applyEnd(locator, 0, ErrorCode.OK);
        final NativeFs fs = NativeFs.instance();
        final Path f = PathBytes.resolve(target, name);
        assertTrue(Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS));
        final EntryStat st = fs.stat(PathBytes.cPath(f));
        assertEquals(0640, st.permissions());
        assertEquals(1_400_000_000_000_000_002L, st.mtimeNanos());
        assertEquals(2, st.nlink());
        assertEquals(st.ino(), fs.stat(PathBytes.cPath(target.resolve("h"))).ino());
        assertArrayEquals(new byte[] { 0, (byte)0xfe }, fs.getXattr(PathBytes.cPath(f), "user.k".getBytes()));
        final EntryStat root = fs.stat(PathBytes.cPath(target));
        assertEquals(0711, root.permissions());
        assertEquals(1_500_000_000_000_000_001L, root.mtimeNanos());
    }

    private void state(final int stage, final long files)
    {
        final int n = DescriptorFlyweight.encodeState(buffer, 0, stage, files, 0, 0, BLOCK);
        recipient.apply(locator, 0, buffer, 0, n, null);
    }

    private void file(final int index, final byte[] path, final int type, final int mode, final int link,
        final int xattrCount, final byte[] xattrs)
    {
        file(index, path, type, mode, link, xattrCount, xattrs, 0);
    }

    private void file(final int index, final byte[] path, final int type, final int mode, final int link,
        final int xattrCount, final byte[] xattrs, final long mtime)
    {
        final int n = DescriptorFlyweight.encodeFile(buffer, 0, index, 0, mtime, mode, type, 0, 0, 0, 0, 0, 0, link,
            path, new byte[0], xattrCount, xattrs);
        assertEquals(ErrorCode.OK, new DescriptorFlyweight().wrap(buffer, 0, n).validate(), "well-formed descriptor");
        recipient.apply(locator, 0, buffer, 0, n, null);
    }
}
