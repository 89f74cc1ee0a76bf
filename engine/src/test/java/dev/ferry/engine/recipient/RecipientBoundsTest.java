package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.layout.TestFiles;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The recipient storage's own checks of donor-chosen quantities, through the SPI (the hostile-donor suite plays the
 * same attacks against the command line): each refusal comes when the descriptor arrives, before anything is built
 * from it, and names the field and the bound.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RecipientBoundsTest
{
    private static final int BLOCK = 4096;

    @TempDir
    Path base;

    private FileTreeRecipient recipient;
    private final UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024));

    @BeforeEach
    void start()
    {
        recipient = new FileTreeRecipient(base.resolve("t"),
            new CloneSettings().blockSize(BLOCK).chunkSize(4 * BLOCK).filesPerChunk(2).sync(false).conclude());
        recipient.applyBegin(CloneMode.START, Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, 7, 0,
            Stage.METADATA));
    }

    @AfterEach
    void end()
    {
        recipient.close();
    }

    @Test
    void aBlockSizeThatDisagreesWithTheLayoutIsBadDescriptor()
    {
        refused(ErrorCode.BAD_DESCRIPTOR, "announces block size 8192 but its configuration said 4096",
            () -> state(Stage.METADATA, 1, 1, 2 * BLOCK));
        assertEquals(-1, recipient.entryCount());
    }

    @Test
    void anAnnouncedCountBeyondTheHeapIsConfigMismatch()
    {
        // an entry costs a few bytes of heap: 10^8 (the most the protocol allows) fit this JVM's 1 GiB, not 256 MiB
        refused(ErrorCode.CONFIG_MISMATCH, "the donor announced 100000000 entries; this client's heap of 256 MiB",
            () -> MemoryBudget.checkEntries(100_000_000L, 256L << 20));
        refused(ErrorCode.CONFIG_MISMATCH, "the donor announced 16777216 chunks",
            () -> state(Stage.METADATA, 1, 1 << 24, BLOCK));
    }

    @Test
    void aStreamedManifestIsCheckedUpToWhatTheHeapHoldsAndNoFurther()
    {
        final long heap = 64L << 20;
        final long max = MemoryBudget.maxEntries(heap);
        assertEquals(11_184_810, max, "-Xmx64m holds ten million entries");
        assertEquals(1024, MemoryBudget.nextStreamedCheck(0, heap));
        assertEquals(2_000_000, MemoryBudget.nextStreamedCheck(1_000_000, heap), "doubling while it fits");
        assertEquals(max, MemoryBudget.nextStreamedCheck(8_388_608, heap), "not a doubling past the heap");
        assertEquals(max, MemoryBudget.nextStreamedCheck(max - 1, heap));
        refused(ErrorCode.CONFIG_MISMATCH, "the donor's streamed manifest has passed 11184810 entries; this client's " +
            "heap of 64 MiB holds at most 11184810", () -> MemoryBudget.nextStreamedCheck(max, heap));
        assertEquals(FileTreeRecipient.MAX_ENTRIES, MemoryBudget.nextStreamedCheck(90_000_000, 1L << 40),
            "the protocol's cap on a large heap");
    }

    @Test
    void entriesArriveInOrder()
    {
        state(Stage.METADATA, 1000, 1000, BLOCK);
        file(0, "a", DescriptorFlyweight.FILE_REGULAR, 10, "");
        refused(ErrorCode.BAD_DESCRIPTOR, "file index 999 arrived where entry 1 was due",
            () -> file(999, "z", DescriptorFlyweight.FILE_REGULAR, 10, ""));
        refused(ErrorCode.BAD_DESCRIPTOR, "file index 0 arrived where entry 1 was due",
            () -> file(0, "b", DescriptorFlyweight.FILE_REGULAR, 10, ""));
        refused(ErrorCode.BAD_DESCRIPTOR, "file index 1000 is outside the 1000 entries",
            () -> file(1000, "c", DescriptorFlyweight.FILE_REGULAR, 10, ""));
        file(1, "b", DescriptorFlyweight.FILE_REGULAR, 10, "");
    }

    @Test
    void fileSizesAreBoundByTheFileSystemAndTheAnnouncedChunks()
    {
        state(Stage.METADATA, 4, 3, BLOCK);
        refused(ErrorCode.BAD_DESCRIPTOR, "more than the recipient's file system holds",
            () -> file(0, "huge", DescriptorFlyweight.FILE_REGULAR, Long.MAX_VALUE, ""));
        file(0, "two-chunks", DescriptorFlyweight.FILE_REGULAR, 8 * BLOCK, "");
        file(1, "small", DescriptorFlyweight.FILE_REGULAR, 10, "");
        refused(ErrorCode.BAD_DESCRIPTOR, "lay out 4 chunks of 16384 bytes, more than the 3 chunks it announced",
            () -> file(2, "next", DescriptorFlyweight.FILE_REGULAR, 4 * BLOCK, ""));
    }

    @Test
    void symlinkTargetsAreCheckedWhenAnnounced()
    {
        state(Stage.METADATA, 2, 0, BLOCK);
        refused(ErrorCode.BAD_DESCRIPTOR, "invalid symlink target for 'l': it is empty",
            () -> file(0, "l", DescriptorFlyweight.FILE_SYMLINK, 0, ""));
        refused(ErrorCode.BAD_DESCRIPTOR, "invalid symlink target for 'l': it contains a NUL byte at offset 3",
            () -> file(0, "l", DescriptorFlyweight.FILE_SYMLINK, 0, "../\0"));
        refused(ErrorCode.BAD_DESCRIPTOR, "it is 4096 bytes long, more than the 4095 bytes",
            () -> file(0, "l", DescriptorFlyweight.FILE_SYMLINK, 0, "x".repeat(4096)));
        file(0, "l", DescriptorFlyweight.FILE_SYMLINK, 0, "x".repeat(4095));
        assertTrue(TestFiles.listAll(base.resolve("t")).stream().allMatch((p) -> p.startsWith(ManifestScanner.STATE_DIR)),
            "a symlink is made only by FILE SYNC: " + TestFiles.listAll(base.resolve("t")));
    }

    @Test
    void aBodyThatDisagreesWithItsPieceMaskIsRefusedAndNothingIsWritten() throws Exception
    {
        state(Stage.METADATA, 2, 1, BLOCK);
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeFile(b, 0, 0, 0, 0, 0755,
            DescriptorFlyweight.FILE_DIRECTORY, 0, 0, new byte[0], new byte[0]), null);
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeFile(b, 0, 1, 1000, 0, 0644,
            DescriptorFlyweight.FILE_REGULAR, 0, 1, "f".getBytes(StandardCharsets.UTF_8), new byte[0]), null);
        state(Stage.FILE_COPY, 2, 1, BLOCK);
        final java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocateDirect(1000);
        // one 4 KiB block is one piece: a mask without it must carry no body
        final int n = DescriptorFlyweight.encodeData(b, 0, 1, 0, 0, 0, 1000, 0, DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK,
            0L, 1000);
        refused(ErrorCode.BAD_DESCRIPTOR, "its piece mask 0 holds 0",
            () -> recipient.apply(null, 0, b, 0, n, new BufferApplyData().set(bytes, 0, 1000)));
        assertFalse(Files.exists(base.resolve("t").resolve("f")), "nothing was written");
    }

    private void state(final int stage, final long files, final long chunks, final int blockSize)
    {
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeState(b, 0, stage, files, chunks, 0, blockSize), null);
    }

    private void file(final int index, final String path, final int type, final long size, final String target)
    {
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeFile(b, 0, index, size, 0, 0644, type, 0, 0,
            path.getBytes(StandardCharsets.UTF_8), target.getBytes(StandardCharsets.UTF_8)), null);
    }

    private static void refused(final int code, final String message, final Runnable r)
    {
        final FerryException ex = assertThrows(FerryException.class, r::run);
        assertEquals(ErrorCode.name(code), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains(message), ex.getMessage());
    }
}
