package dev.ferry.engine.recipient;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.github.luben.zstd.Zstd;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Compressed DATA blocks (protocol 3, flag 16) through the recipient storage, as the apply worker hands them over:
 * the round trip writes the pieces exactly; the CRC32C covers the compressed bytes; a frame that decompresses to more
 * (a bomb) or fewer bytes than the piece mask holds, or does not decompress, or is not shorter, is BAD_DESCRIPTOR and
 * nothing is written.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CompressedBlockTest
{
    private static final int BLOCK = 64 * 1024;
    private static final int PIECE = DescriptorFlyweight.pieceSize(BLOCK);

    @TempDir
    Path base;

    private FileTreeRecipient recipient;
    private final UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024));
    private final byte[] text = text(BLOCK);

    @BeforeEach
    void start()
    {
        recipient = new FileTreeRecipient(base.resolve("t"),
            new CloneSettings().blockSize(BLOCK).chunkSize(4 * BLOCK).sync(false).conclude());
        recipient.applyBegin(CloneMode.START, Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, 7, 0,
            Stage.METADATA));
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeState(b, 0, Stage.METADATA, 2, 1, BLOCK, BLOCK), null);
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeFile(b, 0, 0, 0, 0, 0755,
            DescriptorFlyweight.FILE_DIRECTORY, 0, 0, new byte[0], new byte[0]), null);
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeFile(b, 0, 1, BLOCK, 0, 0644,
            DescriptorFlyweight.FILE_REGULAR, 0, 1, "f".getBytes(StandardCharsets.UTF_8), new byte[0]), null);
        recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeState(b, 0, Stage.FILE_COPY, 2, 1, BLOCK, BLOCK), null);
    }

    @AfterEach
    void end()
    {
        recipient.close();
    }

    @Test
    void aCompressedBlockIsWrittenAsItsPieces() throws Exception
    {
        final byte[] packed = Zstd.compress(text, 3);
        assertTrue(packed.length < text.length / 2, "text shrinks: " + packed.length);
        apply(packed, crc(packed), DescriptorFlyweight.ALL_PIECES);
        assertArrayEquals(text, Files.readAllBytes(base.resolve("t/f")));
    }

    @Test
    void aCompressedBlockOfScatteredPiecesWritesOnlyThosePieces() throws Exception
    {
        final long mask = 0b1010_0000_0000_0101L; // pieces 0, 2, 13 and 15 of 16
        final byte[] pieces = new byte[4 * PIECE];
        int at = 0;
        for (final int i : new int[]{ 0, 2, 13, 15 })
        {
            System.arraycopy(text, i * PIECE, pieces, at, PIECE);
            at += PIECE;
        }
        final byte[] packed = Zstd.compress(pieces, 3);
        apply(packed, crc(packed), mask);
        final byte[] copy = Files.readAllBytes(base.resolve("t/f"));
        assertArrayEquals(Arrays.copyOfRange(text, 15 * PIECE, BLOCK), Arrays.copyOfRange(copy, 15 * PIECE, BLOCK));
        assertArrayEquals(Arrays.copyOfRange(text, 2 * PIECE, 3 * PIECE), Arrays.copyOfRange(copy, 2 * PIECE, 3 * PIECE));
        assertArrayEquals(new byte[PIECE], Arrays.copyOfRange(copy, PIECE, 2 * PIECE), "piece 1 was not in the body");
    }

    @Test
    void theCrcCoversTheCompressedBytes()
    {
        final byte[] packed = Zstd.compress(text, 3);
        refused(ErrorCode.CHECKSUM_MISMATCH, "has CRC32C",
            () -> apply(packed, crc(text), DescriptorFlyweight.ALL_PIECES));
        packed[packed.length / 2] ^= 0x40; // damaged in transit: the CRC of the wire bytes catches it
        refused(ErrorCode.CHECKSUM_MISMATCH, "has CRC32C",
            () -> apply(packed, crc(Zstd.compress(text, 3)), DescriptorFlyweight.ALL_PIECES));
        assertFalse(Files.exists(base.resolve("t/f")), "nothing was written");
    }

    @Test
    void aBombIsRefusedAtTheMaskedLength()
    {
        // 64 MiB of zeros in a few KiB, announced as one 4 KiB piece: zstd stops at the 4 KiB it may write
        final byte[] bomb = Zstd.compress(new byte[64 << 20], 19);
        assertTrue(bomb.length < PIECE, "bomb of " + bomb.length + " bytes");
        refused(ErrorCode.BAD_DESCRIPTOR, "does not decompress to its 4096 bytes of pieces",
            () -> apply(bomb, crc(bomb), 1L));
        // one block's worth for a whole block's mask is still more than the mask holds when it is one byte more
        final byte[] oneMore = Zstd.compress(new byte[BLOCK + 1], 3);
        refused(ErrorCode.BAD_DESCRIPTOR, "does not decompress to its 65536 bytes of pieces",
            () -> apply(oneMore, crc(oneMore), DescriptorFlyweight.ALL_PIECES));
        assertFalse(Files.exists(base.resolve("t/f")), "nothing was written");
    }

    @Test
    void fewerBytesThanTheMaskHoldsOrGarbageIsRefused()
    {
        final byte[] shorter = Zstd.compress(Arrays.copyOf(text, BLOCK - 1), 3);
        refused(ErrorCode.BAD_DESCRIPTOR, "decompresses to 65535 bytes, its piece mask holds 65536",
            () -> apply(shorter, crc(shorter), DescriptorFlyweight.ALL_PIECES));
        final byte[] garbage = new byte[1000];
        new Random(5).nextBytes(garbage);
        refused(ErrorCode.BAD_DESCRIPTOR, "does not decompress to its 65536 bytes of pieces (zstd:",
            () -> apply(garbage, crc(garbage), DescriptorFlyweight.ALL_PIECES));
        assertFalse(Files.exists(base.resolve("t/f")), "nothing was written");
    }

    @Test
    void aCompressedBodyMustBeShorterThanItsPieces()
    {
        final byte[] raw = new byte[PIECE];
        new Random(9).nextBytes(raw);
        final byte[] packed = Zstd.compress(raw, 3); // random data grows by the frame's header
        assertTrue(packed.length >= PIECE);
        refused(ErrorCode.BAD_DESCRIPTOR, "it must be shorter, and not empty", () -> apply(packed, crc(packed), 1L));
    }

    private void apply(final byte[] body, final int crc, final long mask)
    {
        final int masked = (int)DescriptorFlyweight.maskedLength(mask, BLOCK, PIECE);
        final int n = DescriptorFlyweight.encodeData(b, 0, 1, 0, 0, 0, BLOCK, crc, DescriptorFlyweight.DATA_FLAG_CRC |
            DescriptorFlyweight.DATA_FLAG_ZSTD, mask, Math.min(body.length, masked));
        final ByteBuffer data = ByteBuffer.allocateDirect(body.length);
        data.put(body).flip();
        if (body.length > masked)
        {
            // the frame check (body <= block) and the session's length check come first: model what reaches apply
            recipient.apply(null, 0, b, 0, DescriptorFlyweight.encodeData(b, 0, 1, 0, 0, 0, BLOCK, crc,
                DescriptorFlyweight.DATA_FLAG_CRC | DescriptorFlyweight.DATA_FLAG_ZSTD, mask, body.length),
                new BufferApplyData().set(data, 0, body.length));
            return;
        }
        recipient.apply(null, 0, b, 0, n, new BufferApplyData().set(data, 0, body.length));
    }

    private static int crc(final byte[] bytes)
    {
        final CRC32C c = new CRC32C();
        c.update(bytes);
        return (int)c.getValue();
    }

    /** Words from a small vocabulary: text as zstd sees it (about 3 to 1 at level 3). */
    static byte[] text(final int length)
    {
        final String[] words = { "ferry", "donor", "recipient", "block", "chunk", "piece", "the", "a", "of", "to",
            "clone", "snapshot", "restart", "window", "compress", "frame", "wire", "bytes", "public", "static" };
        final Random r = new Random(1);
        final StringBuilder s = new StringBuilder(length + 16);
        while (s.length() < length)
        {
            s.append(words[r.nextInt(words.length)]).append(r.nextInt(8) == 0 ? ".\n" : " ");
        }
        return Arrays.copyOf(s.toString().getBytes(StandardCharsets.US_ASCII), length);
    }

    private static void refused(final int code, final String message, final Runnable r)
    {
        final FerryException ex = assertThrows(FerryException.class, r::run);
        assertEquals(ErrorCode.name(code), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains(message), ex.getMessage());
    }
}
