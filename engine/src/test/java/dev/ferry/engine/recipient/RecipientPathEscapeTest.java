package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.layout.TestFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static dev.ferry.core.protocol.DescriptorFlyweight.DATA_FLAG_CRC;
import static dev.ferry.core.protocol.DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_DIRECTORY;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_REGULAR;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_SYMLINK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hostile or buggy donor, played by hand through the recipient SPI: every descriptor that would write outside the
 * target, through a symlink, over the state directory, or disagree with what was announced is refused with the right
 * {@link ErrorCode}, nothing appears outside the target, and a refused clone keeps its {@code .ferry} marker.
 */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class RecipientPathEscapeTest
{
    private static final int BLOCK = 4096;
    private static final long SNAPSHOT = 0x5EED_F00DL;
    private static final String OUTSIDE_TOKEN = "${OUTSIDE}";
    private static final Path TMP_ABS = Path.of("/tmp/abs");

    @TempDir
    Path base;

    private Path target;
    private Path outside;
    private FileTreeRecipient recipient;
    private Locator locator;
    private boolean tmpAbsExisted;
    private boolean parentEscapeExisted;
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024));

    @BeforeEach
    void begin() throws IOException
    {
        tmpAbsExisted = Files.exists(TMP_ABS, LinkOption.NOFOLLOW_LINKS);
        parentEscapeExisted = Files.exists(base.getParent().resolve("escape"), LinkOption.NOFOLLOW_LINKS);
        target = base.resolve("target");
        outside = Files.createDirectories(base.resolve("outside"));
        recipient = new FileTreeRecipient(target, settings());
        final Locator version = recipient.applyBegin(CloneMode.VERSION, null);
        assertEquals(Locator.KIND_VERSION, version.kind());
        locator = Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, SNAPSHOT, 0, Stage.METADATA);
        assertEquals(locator, recipient.applyBegin(CloneMode.START, locator));
        assertTrue(FileTreeRecipient.isIncomplete(target));
    }

    @AfterEach
    void end()
    {
        recipient.close();
        TestFiles.makeWritable(base);
    }

    private static CloneSettings settings()
    {
        return new CloneSettings().blockSize(BLOCK).chunkSize(4 * BLOCK).smallBlock(1024).sync(true).conclude();
    }

    // the positive control: the same encoders produce a clone that is accepted, so refusals below are real refusals

    @Test
    void wellFormedCloneIsApplied() throws IOException
    {
        final byte[] bytes = TestFiles.randomBytes(3, 5000);
        final long dirTime = 1_600_000_000_123_456_789L;
        final long fileTime = 1_600_000_100_987_654_321L;
        state(Stage.METADATA, 4);
        file(0, "a", FILE_DIRECTORY, 0, 0750, dirTime, "");
        file(1, "a/f", FILE_REGULAR, bytes.length, 0640, fileTime, "");
        file(2, "s", FILE_SYMLINK, 0, 0777, fileTime, "a/f");
        file(3, "e", FILE_REGULAR, 0, 0600, fileTime, "");
        state(Stage.FILE_COPY, 4);
        data(1, 0, 0, Arrays.copyOfRange(bytes, 0, BLOCK), DATA_FLAG_CRC, true);
        data(1, 0, BLOCK, Arrays.copyOfRange(bytes, BLOCK, bytes.length), DATA_FLAG_CRC | DATA_FLAG_LAST_IN_CHUNK, true);
        recipient.applyEnd(locator, 0, ErrorCode.OK);

        assertFalse(FileTreeRecipient.isIncomplete(target));
        assertEquals(Stage.DONE, recipient.stage());
        assertEquals(List.of("a", "a/f", "e", "s"), TestFiles.listAll(target));
        assertArrayEquals(bytes, Files.readAllBytes(target.resolve("a/f")));
        assertEquals(0750, TestFiles.mode(target.resolve("a")));
        assertEquals(0640, TestFiles.mode(target.resolve("a/f")));
        assertEquals(0600, TestFiles.mode(target.resolve("e")));
        assertEquals(dirTime, TestFiles.mtimeNanos(target.resolve("a")));
        assertEquals(fileTime, TestFiles.mtimeNanos(target.resolve("a/f")));
        assertEquals("a/f", Files.readSymbolicLink(target.resolve("s")).toString());
        assertEquals(List.of(), TestFiles.listAll(outside));
    }

    // paths

    static Stream<Arguments> hostilePaths()
    {
        final String[] paths = {
            "../escape", "a/../../escape", "..", ".", "a/..", "a/.", "./a", "a/./b", "/tmp/abs", OUTSIDE_TOKEN + "/abs",
            "/", "", "a//b", "a/", "//a", ".ferry", ".ferry/x", ".ferry/status", "a\0b", "\0", "a/b\0/../../../escape",
            "../outside/escape", "a/../../outside/escape" };
        final List<Arguments> out = new ArrayList<>();
        for (final String p : paths)
        {
            final String label = "'" + PathGuard.printable(p) + "'";
            out.add(Arguments.of(label, p, FILE_REGULAR, 0L));
            out.add(Arguments.of(label, p, FILE_REGULAR, 10L));
            out.add(Arguments.of(label, p, FILE_DIRECTORY, 0L));
            out.add(Arguments.of(label, p, FILE_SYMLINK, 0L));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "[{index}] {0} type {2} size {3}")
    @MethodSource("hostilePaths")
    void hostilePathIsRefused(final String label, final String hostile, final int type, final long size)
        throws IOException
    {
        final String path = hostile.replace(OUTSIDE_TOKEN, outside.toString());
        state(Stage.METADATA, 3);
        file(0, "a", FILE_DIRECTORY, 0, 0755, 0, "");
        assertRefused(ErrorCode.PATH_REFUSED,
            () -> file(1, path, type, size, 0644, 0, type == FILE_SYMLINK ? outside.toString() : ""));
        assertEquals(List.of("a"), userEntries(), "only the announced directory may exist");
    }

    @Test
    void fileUnderASymlinkIsRefused() throws IOException
    {
        state(Stage.METADATA, 4);
        file(0, "link", FILE_SYMLINK, 0, 0777, 0, outside.toString());
        assertRefused(ErrorCode.PATH_REFUSED, () -> file(1, "link/f", FILE_REGULAR, 0, 0644, 0, ""));
        assertRefused(ErrorCode.PATH_REFUSED, () -> file(2, "link/d", FILE_DIRECTORY, 0, 0755, 0, ""));
        assertRefused(ErrorCode.PATH_REFUSED, () -> file(3, "link/g", FILE_REGULAR, 10, 0644, 0, ""));
        assertEquals(List.of(), userEntries(), "the symlink is made only at the end of a successful clone");
    }

    @Test
    void fileUnderAnUnannouncedParentIsRefused() throws IOException
    {
        state(Stage.METADATA, 2);
        assertRefused(ErrorCode.PATH_REFUSED, () -> file(0, "nodir/f", FILE_REGULAR, 0, 0644, 0, ""));
        assertRefused(ErrorCode.PATH_REFUSED, () -> file(1, "nodir/d", FILE_DIRECTORY, 0, 0755, 0, ""));
        assertEquals(List.of(), userEntries());
    }

    @Test
    void fileUnderARegularFileIsRefused() throws IOException
    {
        state(Stage.METADATA, 2);
        file(0, "f", FILE_REGULAR, 0, 0644, 0, "");
        assertRefused(ErrorCode.PATH_REFUSED, () -> file(1, "f/g", FILE_REGULAR, 0, 0644, 0, ""));
        assertEquals(List.of("f"), userEntries());
    }

    @Test
    void samePathTwiceIsRefused() throws IOException
    {
        state(Stage.METADATA, 4);
        file(0, "a", FILE_DIRECTORY, 0, 0755, 0, "");
        file(1, "x", FILE_REGULAR, 0, 0644, 0, "");
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> file(2, "a", FILE_SYMLINK, 0, 0777, 0, outside.toString()));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> file(3, "x", FILE_REGULAR, 0, 0644, 0, ""));
        assertEquals(List.of("a", "x"), userEntries());
        assertTrue(Files.isDirectory(target.resolve("a"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void sameIndexTwiceIsRefused() throws IOException
    {
        state(Stage.METADATA, 2);
        file(0, "a", FILE_REGULAR, 0, 0644, 0, "");
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> file(0, "b", FILE_REGULAR, 0, 0644, 0, ""));
        assertEquals(List.of("a"), userEntries(), "the repeated index must not create its path");
    }

    @Test
    void indexBeyondTheAnnouncedCountIsRefused() throws IOException
    {
        state(Stage.METADATA, 1);
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> file(1, "b", FILE_REGULAR, 0, 0644, 0, ""));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> file(Integer.MAX_VALUE, "c", FILE_DIRECTORY, 0, 0755, 0, ""));
        assertEquals(List.of(), userEntries());
    }

    @Test
    void fileBeforeTheManifestIsRefused() throws IOException
    {
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> file(0, "a", FILE_REGULAR, 0, 0644, 0, ""));
        assertEquals(List.of(), userEntries());
    }

    // states

    @Test
    void moreEntriesThanTheLimitAreRefused() throws IOException
    {
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> state(Stage.METADATA, FileTreeRecipient.MAX_ENTRIES + 1));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> state(Stage.METADATA, Long.MAX_VALUE));
        assertEquals(-1, recipient.entryCount());
    }

    @Test
    void manifestAnnouncedTwiceIsRefused() throws IOException
    {
        state(Stage.METADATA, 1);
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> state(Stage.METADATA, 1));
        assertEquals(1, recipient.entryCount());
    }

    @Test
    void fileCopyBeforeEveryEntryIsRefused() throws IOException
    {
        state(Stage.METADATA, 2);
        file(0, "a", FILE_REGULAR, 0, 0644, 0, "");
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> state(Stage.FILE_COPY, 2));
        assertEquals(Stage.METADATA, recipient.stage());
    }

    // data

    @Test
    void dataBeforeTheFileCopyStateIsRefused() throws IOException
    {
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 0, new byte[10], DATA_FLAG_CRC, true));
        state(Stage.METADATA, 1);
        file(0, "f", FILE_REGULAR, 10, 0644, 0, "");
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 0, new byte[10], DATA_FLAG_CRC, true));
        assertEquals(List.of(), userEntries(), "a non-empty file is created only by its first accepted block");
    }

    @Test
    void dataForAnUnknownOrNonRegularIndexIsRefused() throws IOException
    {
        state(Stage.METADATA, 3);
        file(0, "d", FILE_DIRECTORY, 0, 0755, 0, "");
        file(1, "s", FILE_SYMLINK, 0, 0777, 0, outside.resolve("victim").toString());
        file(2, "f", FILE_REGULAR, 10, 0644, 0, "");
        state(Stage.FILE_COPY, 3);
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(3, 0, 0, new byte[10], DATA_FLAG_CRC, true));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(Integer.MAX_VALUE, 0, 0, new byte[10], DATA_FLAG_CRC, true));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 0, new byte[10], DATA_FLAG_CRC, true));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(1, 0, 0, new byte[10], DATA_FLAG_CRC, true));
        assertEquals(List.of("d"), userEntries());
        assertFalse(Files.exists(outside.resolve("victim"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void dataPastTheAnnouncedSizeIsRefused() throws IOException
    {
        state(Stage.METADATA, 1);
        file(0, "f", FILE_REGULAR, 10, 0644, 0, "");
        state(Stage.FILE_COPY, 1);
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 5, new byte[10], DATA_FLAG_CRC, true));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 0, new byte[11], DATA_FLAG_CRC, true));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 10, new byte[1], DATA_FLAG_CRC, true));
        assertEquals(List.of(), userEntries());
    }

    @Test
    void dataWhoseEndOverflowsALongIsRefused() throws IOException
    {
        state(Stage.METADATA, 1);
        file(0, "f", FILE_REGULAR, 10, 0644, 0, "");
        state(Stage.FILE_COPY, 1);
        // position + length wraps to a negative number, which is "not past" a 10-byte file
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, Long.MAX_VALUE - 4, new byte[10], DATA_FLAG_CRC, true));
        assertEquals(List.of(), userEntries(), "a refused block must not create its file");
    }

    @Test
    void dataOfBadLengthIsRefused() throws IOException
    {
        state(Stage.METADATA, 1);
        file(0, "f", FILE_REGULAR, 3 * BLOCK, 0644, 0, "");
        state(Stage.FILE_COPY, 1);
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 0, new byte[BLOCK + 1], DATA_FLAG_CRC, true));
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> data(0, 0, 0, new byte[0], DATA_FLAG_CRC, true));
        // the descriptor says 10 bytes, the data carries 5
        final byte[] five = new byte[5];
        final int n = DescriptorFlyweight.encodeData(buffer, 0, 0, 0, 0, 0, 10, crc(five), DATA_FLAG_CRC);
        assertRefused(ErrorCode.BAD_DESCRIPTOR, () -> recipient.apply(locator, 0, buffer, 0, n, applyData(five)));
        assertEquals(List.of(), userEntries());
    }

    @Test
    void dataWithAWrongCrcIsRefusedAndNotWritten() throws IOException
    {
        state(Stage.METADATA, 1);
        file(0, "f", FILE_REGULAR, 100, 0644, 0, "");
        state(Stage.FILE_COPY, 1);
        final byte[] bytes = TestFiles.randomBytes(9, 100);
        final int good = crc(bytes);
        final int n = DescriptorFlyweight.encodeData(buffer, 0, 0, 0, 0, 0, bytes.length, good ^ 0x100,
            DATA_FLAG_CRC | DATA_FLAG_LAST_IN_CHUNK);
        assertRefused(ErrorCode.CHECKSUM_MISMATCH, () -> recipient.apply(locator, 0, buffer, 0, n, applyData(bytes)));
        assertEquals(List.of(), userEntries(), "a corrupt block must not be written");
    }

    @Test
    void refusedCloneKeepsItsMarkerAndMakesNoSymlink() throws IOException
    {
        state(Stage.METADATA, 3);
        file(0, "link", FILE_SYMLINK, 0, 0777, 0, outside.toString());
        file(1, "ok", FILE_REGULAR, 0, 0644, 0, "");
        final FerryException ex = assertThrows(FerryException.class,
            () -> file(2, "link/f", FILE_REGULAR, 0, 0644, 0, ""));
        assertEquals(ErrorCode.PATH_REFUSED, ex.code());
        recipient.applyEnd(locator, 0, ex.code());
        assertTrue(FileTreeRecipient.isIncomplete(target));
        assertTrue(Files.isRegularFile(target.resolve(ManifestScanner.STATE_DIR).resolve("status")));
        assertFalse(Files.exists(target.resolve("link"), LinkOption.NOFOLLOW_LINKS));
        assertEquals(List.of(), TestFiles.listAll(outside));
    }

    @Test
    void refusedMessageEscapesControlCharacters() throws IOException
    {
        state(Stage.METADATA, 1);
        final FerryException ex = assertThrows(FerryException.class,
            () -> file(0, "../x\n\u001b[31m", FILE_REGULAR, 0, 0644, 0, ""));
        assertEquals(ErrorCode.PATH_REFUSED, ex.code());
        assertTrue(ex.getMessage().contains("../x\\x0a\\x1b[31m"), ex.getMessage());
        assertFalse(ex.getMessage().contains("\n"));
    }

    // helpers

    private void assertRefused(final int code, final Executable action) throws IOException
    {
        final FerryException ex = assertThrows(FerryException.class, action);
        assertEquals(ErrorCode.name(code), ErrorCode.name(ex.code()), ex.getMessage());
        assertNothingOutside();
        recipient.applyEnd(locator, 0, code);
        assertTrue(FileTreeRecipient.isIncomplete(target), "a refused clone keeps its .ferry marker");
    }

    private void assertNothingOutside()
    {
        assertEquals(List.of(), TestFiles.listAll(outside), "nothing may be written outside the target");
        for (final String p : TestFiles.listAll(base))
        {
            assertTrue(p.equals("outside") || p.equals("target") || p.startsWith("target/"), "unexpected " + p);
        }
        if (!parentEscapeExisted)
        {
            assertFalse(Files.exists(base.getParent().resolve("escape"), LinkOption.NOFOLLOW_LINKS),
                "an 'escape' appeared next to the test directory");
        }
        if (!tmpAbsExisted)
        {
            assertFalse(Files.exists(TMP_ABS, LinkOption.NOFOLLOW_LINKS), "/tmp/abs was created");
        }
    }

    /**
     * @return the target's entries, without the recipient's state directory.
     */
    private List<String> userEntries()
    {
        final List<String> out = new ArrayList<>();
        for (final String p : TestFiles.listAll(target))
        {
            if (!p.equals(ManifestScanner.STATE_DIR) && !p.startsWith(ManifestScanner.STATE_DIR + "/"))
            {
                out.add(p);
            }
        }
        return out;
    }

    private void state(final int stage, final long files)
    {
        final int n = DescriptorFlyweight.encodeState(buffer, 0, stage, files, 1, 0, BLOCK);
        recipient.apply(locator, 0, buffer, 0, n, null);
    }

    private void file(
        final int index, final String path, final int type, final long size, final int mode, final long mtimeNanos,
        final String linkTarget)
    {
        final int n = DescriptorFlyweight.encodeFile(buffer, 0, index, size, mtimeNanos, mode, type, 0,
            type == FILE_REGULAR && size > 0 ? 1 : 0, path.getBytes(StandardCharsets.UTF_8),
            linkTarget.getBytes(StandardCharsets.UTF_8));
        final DescriptorFlyweight check = new DescriptorFlyweight().wrap(buffer, 0, n);
        assertEquals(ErrorCode.OK, check.validate(), "the test must send well-formed descriptors");
        recipient.apply(locator, 0, buffer, 0, n, null);
    }

    private void data(final int index, final int chunk, final long position, final byte[] bytes, final int flags,
        final boolean rightCrc)
    {
        final int crc = rightCrc ? crc(bytes) : ~crc(bytes);
        final int n = DescriptorFlyweight.encodeData(buffer, 0, index, chunk, 0, position, bytes.length, crc, flags);
        recipient.apply(locator, 0, buffer, 0, n, applyData(bytes));
    }

    private static BufferApplyData applyData(final byte[] bytes)
    {
        final ByteBuffer b = ByteBuffer.allocateDirect(Math.max(1, bytes.length));
        b.put(bytes).flip();
        return new BufferApplyData().set(b, 0, bytes.length);
    }

    private static int crc(final byte[] bytes)
    {
        final CRC32C c = new CRC32C();
        c.update(bytes);
        return (int)c.getValue();
    }
}
