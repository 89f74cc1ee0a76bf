package dev.ferry.engine.recipient;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.layout.TestFiles;

import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_DIRECTORY;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_REGULAR;
import static dev.ferry.core.protocol.DescriptorFlyweight.NO_LINK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10: a new file that one block holds whole is written, and given its mtime, by the apply worker in one go;
 * FILE SYNC restores nothing for it. Only files that need nothing else (no xattrs, the owner and mode a new file gets
 * here) go that way: the others keep FILE SYNC's order (owner, xattrs, mtime, mode), and every file ends with the
 * donor's bytes, mtime and mode, forced or not.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WholeFileWriteTest
{
    private static final int BLOCK = 4096;
    private static final long MTIME = 1_400_000_000_123_456_789L;

    @TempDir
    Path base;

    private FileTreeRecipient recipient;
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024));

    @AfterEach
    void end()
    {
        if (recipient != null)
        {
            recipient.close();
        }
        TestFiles.makeWritable(base);
    }

    @ParameterizedTest(name = "sync {0}")
    @ValueSource(booleans = { false, true })
    void onlyFilesThatNeedNothingElseAreFinishedByTheirWriter(final boolean sync) throws IOException
    {
        final Path target = base.resolve("target");
        recipient = new FileTreeRecipient(target, new CloneSettings().blockSize(BLOCK).chunkSize(16 * BLOCK).sync(sync)
            .conclude());
        recipient.applyBegin(CloneMode.VERSION, null);
        final Locator locator = Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, 77, 0, Stage.METADATA);
        recipient.applyBegin(CloneMode.START, locator);

        final Path probe = Files.createFile(base.resolve("probe"));
        final int uid = (Integer)Files.getAttribute(probe, "unix:uid");
        final int gid = (Integer)Files.getAttribute(probe, "unix:gid");
        final int created = (Integer)Files.getAttribute(probe, "unix:mode") & 07777;
        final int other = created == 0600 ? 0640 : 0600;
        final ByteArrayOutputStream x = new ByteArrayOutputStream();
        DescriptorFlyweight.appendXattr(x, "user.k".getBytes(), new byte[] { 1, 2 });
        final byte[] plain = bytes(100, 1);
        final byte[] mode = bytes(200, 2);
        final byte[] xattr = bytes(300, 3);
        final byte[] twoBlocks = bytes(BLOCK + 500, 4);
        final byte[] full = bytes(BLOCK, 5);

        state(locator, Stage.METADATA, 6);
        file(locator, 0, "", FILE_DIRECTORY, 0, 0755, uid, gid, 0, new byte[0]);
        file(locator, 1, "plain", FILE_REGULAR, plain.length, created, uid, gid, 0, new byte[0]);
        file(locator, 2, "mode", FILE_REGULAR, mode.length, other, uid, gid, 0, new byte[0]);
        file(locator, 3, "xattr", FILE_REGULAR, xattr.length, created, uid, gid, 1, x.toByteArray());
        file(locator, 4, "two-blocks", FILE_REGULAR, twoBlocks.length, created, uid, gid, 0, new byte[0]);
        file(locator, 5, "full-block", FILE_REGULAR, full.length, created, uid, gid, 0, new byte[0]);
        state(locator, Stage.FILE_COPY, 6);
        data(locator, 1, 0, plain, 0, plain.length);
        data(locator, 2, 0, mode, 0, mode.length);
        data(locator, 3, 0, xattr, 0, xattr.length);
        data(locator, 4, 0, twoBlocks, 0, BLOCK);
        data(locator, 4, 1, twoBlocks, BLOCK, 500);
        data(locator, 5, 0, full, 0, full.length);
        assertEquals(2, recipient.wholeFilesWritten(), "plain and full-block: whole in one block, nothing else to do");
        assertEquals(MTIME + 1, EntryStat.read(target.resolve("plain")).mtimeNanos(), "its writer set the mtime");
        assertTrue(EntryStat.read(target.resolve("mode")).mtimeNanos() != MTIME + 2, "mode waits for FILE SYNC");
        recipient.applyEnd(locator, 0, ErrorCode.OK);

        final String[] names = { "plain", "mode", "xattr", "two-blocks", "full-block" };
        final byte[][] contents = { plain, mode, xattr, twoBlocks, full };
        final int[] modes = { created, other, created, created, created };
        for (int i = 0; i < names.length; i++)
        {
            final Path f = target.resolve(names[i]);
            assertArrayEquals(contents[i], Files.readAllBytes(f), names[i]);
            final EntryStat st = EntryStat.read(f);
            assertEquals(MTIME + i + 1, st.mtimeNanos(), names[i] + " mtime");
            assertEquals(modes[i], st.permissions(), names[i] + " mode");
            assertEquals(uid + ":" + gid, st.uid() + ":" + st.gid(), names[i] + " owner");
        }
        assertArrayEquals(new byte[] { 1, 2 },
            NativeFs.instance().getXattr(PathBytes.cPath(target.resolve("xattr")), "user.k".getBytes()));
        assertFalse(Files.exists(target.resolve(".ferry")), "the clone concluded");
    }

    private static byte[] bytes(final int n, final int seed)
    {
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (byte)(i * 31 + seed);
        }
        return b;
    }

    private void state(final Locator locator, final int stage, final long files)
    {
        final int n = DescriptorFlyweight.encodeState(buffer, 0, stage, files, 1, 0, BLOCK); // one chunk holds all
        recipient.apply(locator, 0, buffer, 0, n, null);
    }

    private void file(final Locator locator, final int index, final String path, final int type, final long size,
        final int mode, final int uid, final int gid, final int xattrCount, final byte[] xattrs)
    {
        final int n = DescriptorFlyweight.encodeFile(buffer, 0, index, size, index == 0 ? MTIME : MTIME + index, mode,
            type, 0, 0, type == FILE_REGULAR ? 1 : 0, uid, gid, 0, NO_LINK, path.getBytes(), new byte[0], xattrCount,
            xattrs);
        assertEquals(ErrorCode.OK, new DescriptorFlyweight().wrap(buffer, 0, n).validate(), "well-formed descriptor");
        recipient.apply(locator, 0, buffer, 0, n, null);
    }

    private void data(final Locator locator, final int index, final int block, final byte[] all, final int from,
        final int length)
    {
        final byte[] part = java.util.Arrays.copyOfRange(all, from, from + length);
        final CRC32C crc = new CRC32C();
        crc.update(part);
        final int n = DescriptorFlyweight.encodeData(buffer, 0, index, 0, block, from, length, (int)crc.getValue(),
            DescriptorFlyweight.DATA_FLAG_CRC);
        final ByteBuffer b = ByteBuffer.allocateDirect(length);
        b.put(part).flip();
        recipient.apply(locator, 0, buffer, 0, n, new BufferApplyData().set(b, 0, length));
    }
}
