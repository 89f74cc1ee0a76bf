package dev.ferry.core.protocol;

import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exact bytes of each layout, as {@code docs/PROTOCOL.md} draws them. Any change to an offset, a width or the byte
 * order fails here: such a change needs a new protocol version, not a quiet edit.
 */
class WireLayoutTest
{
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);

    @Test
    void oneByteOrderLittleEndian()
    {
        assertEquals(ByteOrder.LITTLE_ENDIAN, Wire.BYTE_ORDER);
        assertEquals(2, Wire.STRING_LENGTH_SIZE);
        assertEquals(4096, Wire.MAX_STRING_BYTES);
        assertEquals(16 * 1024 * 1024, FrameHeader.DEFAULT_MAX_FRAME_LENGTH);
    }

    @Test
    void frameHeaderBytes()
    {
        assertEquals(0, FrameHeader.LENGTH_OFFSET);
        assertEquals(4, FrameHeader.TYPE_OFFSET);
        assertEquals(6, FrameHeader.FLAGS_OFFSET);
        assertEquals(8, FrameHeader.HEADER_LENGTH);

        buffer.setMemory(0, 16, (byte)0xEE);
        assertEquals(8, FrameHeader.write(buffer, 0, 0x0102_0304, 0x0665));
        assertBytes("04030201 6506 0000", 0, 8);
        assertEquals((byte)0xEE, buffer.getByte(8));
        assertEquals(0x0102_0304, FrameHeader.frameLength(buffer, 0));
        assertEquals(0x0665, FrameHeader.type(buffer, 0));
        assertEquals(0, FrameHeader.flags(buffer, 0));

        FrameHeader.write(buffer, 3, 48, FrameType.COM_RES_DATA_DESC);
        assertBytes("30000000 6600 0000", 3, 8);

        // type and flags are unsigned 16-bit
        FrameHeader.write(buffer, 0, 8, 0xFFFF);
        buffer.putShort(FrameHeader.FLAGS_OFFSET, (short)0x8001, ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xFFFF, FrameHeader.type(buffer, 0));
        assertEquals(0x8001, FrameHeader.flags(buffer, 0));
    }

    @Test
    void dataDescriptorBytes()
    {
        buffer.setMemory(0, 64, (byte)0xEE);
        final int length = DescriptorFlyweight.encodeData(buffer, 0, 0x1122_3344, 0x0102_0304, 0x0506_0708,
            0x0102_0304_0506_0708L, 0x0A0B_0C0D, 0xCAFE_BABE, 3);
        assertEquals(48, length);
        assertBytes(
            "03 000000" +           //  0 type DATA, reserved
            "44332211" +            //  4 file index
            "04030201" +            //  8 chunk
            "08070605" +            // 12 block
            "0807060504030201" +    // 16 offset in the file
            "0D0C0B0A" +            // 24 length
            "BEBAFECA" +            // 28 CRC32C
            "03000000" +            // 32 flags
            "0D0C0B0A" +            // 36 body length (the whole block)
            "FFFFFFFFFFFFFFFF",     // 40 piece mask: every piece
            0, 48);
        assertEquals((byte)0xEE, buffer.getByte(48));

        assertEquals(4, DescriptorFlyweight.DATA_FILE_OFFSET);
        assertEquals(8, DescriptorFlyweight.DATA_CHUNK_OFFSET);
        assertEquals(12, DescriptorFlyweight.DATA_BLOCK_OFFSET);
        assertEquals(16, DescriptorFlyweight.DATA_POSITION_OFFSET);
        assertEquals(24, DescriptorFlyweight.DATA_LENGTH_OFFSET);
        assertEquals(28, DescriptorFlyweight.DATA_CRC_OFFSET);
        assertEquals(32, DescriptorFlyweight.DATA_FLAGS_OFFSET);
        assertEquals(36, DescriptorFlyweight.DATA_BODY_LENGTH_OFFSET);
        assertEquals(40, DescriptorFlyweight.DATA_PIECE_MASK_OFFSET);
        assertEquals(48, DescriptorFlyweight.DATA_LENGTH);
        assertEquals(16, DescriptorFlyweight.DATA_FLAG_ZSTD);
    }

    @Test
    void executeCompressBytes()
    {
        // section 4.8a: compress at level 3 = flag 8, level in bits 16-23
        buffer.putInt(0, ExecuteFlags.compress(3), Wire.BYTE_ORDER);
        assertBytes("08000300", 0, 4);
        assertEquals(8, ExecuteFlags.COMPRESS);
        assertEquals(16, ExecuteFlags.LEVEL_SHIFT);
    }

    @Test
    void executeHashAheadBytes()
    {
        // section 4.8a, protocol 4: METADATA_ONLY | HASH_AHEAD, then the int64 newer-than (10 s after the epoch)
        buffer.putInt(0, ExecuteFlags.METADATA_ONLY | ExecuteFlags.HASH_AHEAD, Wire.BYTE_ORDER);
        buffer.putLong(ExecuteFlags.NEWER_THAN_OFFSET, 10_000_000_000L, Wire.BYTE_ORDER);
        assertBytes("11000000" + "00e40b5402000000", 0, 12);
        assertEquals(12, ExecuteFlags.LENGTH_HASH_AHEAD);
        assertEquals(4, ExecuteFlags.HASH_AHEAD_PROTOCOL);
    }

    @Test
    void dataDescriptorWithScatteredPieces()
    {
        // a 1 MiB block (16 KiB pieces) of which pieces 0 and 2 travel, the others matched the recipient's hashes
        final int piece = DescriptorFlyweight.pieceSize(1 << 20);
        assertEquals(16384, piece);
        assertEquals(4096, DescriptorFlyweight.pieceSize(4096));
        assertEquals(4096, DescriptorFlyweight.pieceSize(128 * 1024));
        assertEquals(1 << 20, DescriptorFlyweight.pieceSize(64 << 20));
        DescriptorFlyweight.encodeData(buffer, 0, 1, 2, 3, 4L << 20, 1 << 20, 0, 8 | 1, 0b101L, 2 * piece);
        assertBytes(
            "03 000000 01000000 02000000 03000000 0000400000000000 00001000 00000000 09000000" +
            "00800000" +            // 36 body length: two pieces
            "0500000000000000",     // 40 piece mask 0b101
            0, 48);
        // a short last block: its last piece is short
        assertEquals(100, DescriptorFlyweight.maskedLength(-1L, 100, piece));
        assertEquals(1, DescriptorFlyweight.pieceCount(100, piece));
        assertEquals(piece + 10, DescriptorFlyweight.maskedLength(0b11L | (1L << 40), piece + 10, piece));
        assertEquals(-1L, DescriptorFlyweight.allPieces(1 << 20, piece));
        assertEquals(0b111L, DescriptorFlyweight.allPieces(2 * piece + 1, piece));
    }

    @Test
    void haveBytes()
    {
        buffer.setMemory(0, 64, (byte)0xEE);
        HaveCodec.encodeHeader(buffer, 0, 0x11, 0x22, 1);
        HaveCodec.putHash(buffer, 0, 0, 0x0102_0304_0506_0708L, 0x1112_1314_1516_1718L);
        assertBytes("11000000 22000000 01000000 00000000 0807060504030201 1817161514131211", 0, 32);
        assertEquals(32, HaveCodec.lengthFor(1));
        assertEquals(7, FrameType.COM_HAVE);
        assertEquals(ErrorCode.OK, HaveCodec.validate(buffer, 0, 32));
        assertEquals(ErrorCode.MALFORMED_FRAME, HaveCodec.validate(buffer, 0, 31));
        assertEquals(ErrorCode.MALFORMED_FRAME, HaveCodec.validate(buffer, 0, 48));
        HaveCodec.encodeHeader(buffer, 0, 0x11, 0, 0, HaveCodec.FLAG_WHOLE);
        assertBytes("11000000 00000000 00000000 01000000", 0, 16);
        assertEquals(ErrorCode.OK, HaveCodec.validate(buffer, 0, 16));
        HaveCodec.encodeHeader(buffer, 0, 0x11, 0, 1, HaveCodec.FLAG_WHOLE);
        assertEquals(ErrorCode.MALFORMED_FRAME, HaveCodec.validate(buffer, 0, 32), "a whole file carries no hashes");
        HaveCodec.encodeHeader(buffer, 0, 0x11, 0, 0, 2);
        assertEquals(ErrorCode.MALFORMED_FRAME, HaveCodec.validate(buffer, 0, 16), "unknown flag");
    }

    @Test
    void stateDescriptorBytes()
    {
        buffer.setMemory(0, 64, (byte)0xEE);
        assertEquals(40, DescriptorFlyweight.encodeState(buffer, 0, Stage.FILE_COPY, 0x0102_0304_0506_0708L,
            0x1112_1314_1516_1718L, 0x2122_2324_2526_2728L, 0x0010_0000));
        assertBytes(
            "01 000000" +
            "02000000" +
            "0807060504030201" +
            "1817161514131211" +
            "2827262524232221" +
            "00001000" +
            "00000000",
            0, 40);
    }

    @Test
    void fileDescriptorBytes()
    {
        buffer.setMemory(0, 128, (byte)0xEE);
        final int length = DescriptorFlyweight.encodeFile(buffer, 0, 0x0102_0304, 0x1112_1314_1516_1718L,
            0x2122_2324_2526_2728L, 04755, DescriptorFlyweight.FILE_SYMLINK, 1, 0x3132_3334, 0x4142_4344,
            0x5152_5354, 0x6162_6364, 0x7172_7374_7576_7778L, -1, Wire.utf8("a\u00e9"), Wire.utf8("c"), 1,
            new byte[] { 1, 'n', 1, 0, 0, 0, (byte)0xFF });
        assertEquals(79, length);
        assertBytes(
            "02 000000" +           //  0 type FILE, reserved
            "04030201" +            //  4 file index
            "1817161514131211" +    //  8 size
            "2827262524232221" +    // 16 mtime ns
            "ED090000" +            // 24 mode 04755
            "03 01 0100" +          // 28 file type symlink, flags 1, xattr count 1
            "34333231" +            // 32 first chunk
            "44434241" +            // 36 chunk span
            "54535251" +            // 40 uid
            "64636261" +            // 44 gid
            "7877767574737271" +    // 48 rdev
            "FFFFFFFF" +            // 56 link index -1
            "07000000" +            // 60 xattr section length
            "0300 61C3A9" +         // 64 path "a\u00e9"
            "0100 63" +             // 69 target "c"
            "01 6E 01000000 FF",    // 72 xattr "n" = FF
            0, 79);
        assertEquals((byte)0xEE, buffer.getByte(79));
    }

    @Test
    void helloBytes()
    {
        final int length = HelloCodec.encode(buffer, 0, 1, 0x0203, HelloCodec.ROLE_DONOR, 0x0102_0304_0506_0708L, "v1");
        assertEquals(28, length);
        assertBytes(
            "4645525259 0D0A00" +   //  0 "FERRY\r\n\0"
            "0100" +                //  8 protocol min
            "0302" +                // 10 protocol max
            "02000000" +            // 12 role donor
            "0807060504030201" +    // 16 features
            "0200 7631",            // 24 "v1"
            0, 28);
        assertEquals(1, HelloCodec.FEATURE_CRC32C);
        assertEquals(2, HelloCodec.FEATURE_RESTART);
        assertEquals(4, HelloCodec.FEATURE_AUTH_REQUIRED);
        assertEquals(8, HelloCodec.FEATURE_TLS);
        assertEquals(16, HelloCodec.FEATURE_QUEUE);
    }

    @Test
    void realLocatorBytes()
    {
        final int length = LocatorCodec.encode(buffer, 0,
            Locator.real(0x0102, 0x0304, 0x1112_1314_1516_1718L, 0x21, Stage.FILE_COPY));
        assertEquals(24, length);
        assertBytes(
            "0201" +                //  0 engine
            "02" +                  //  2 kind real
            "02" +                  //  3 stage FILE_COPY
            "0403" +                //  4 protocol min
            "0403" +                //  6 protocol max
            "1817161514131211" +    //  8 snapshot
            "21000000" +            // 16 task
            "00000000",             // 20 applied-state length
            0, 24);
    }

    @Test
    void restartLocatorBytes()
    {
        final AppliedState state = new AppliedState(10);
        state.onApplied(0, 0, true);
        state.onApplied(3, 16, true);
        state.onApplied(9, 1, true);
        state.onApplied(1, 2, false);
        state.onApplied(5, 7, false);
        final Locator restart = Locator.real(1, 1, 5, 0, Stage.FILE_COPY).restart(state);
        final int length = LocatorCodec.encode(buffer, 0, restart);
        assertEquals(50, length);
        assertBytes(
            "0100 03 02 0100 0100 0500000000000000 00000000" +
            "1A000000" +            // 20 applied-state length 26
            "0A000000" +            // 24 chunk count 10
            "02000000" +            // 28 partial count 2
            "09 02" +               // 32 bitmap: chunks 0, 3 | chunk 9
            "01000000 02000000" +   // 34 chunk 1: 2 blocks
            "05000000 07000000",    // 42 chunk 5: 7 blocks
            0, 50);
    }

    @Test
    void ackBytes()
    {
        AckCodec.putCount(buffer, 0, 2);
        AckCodec.putEntry(buffer, 0, 0, 0x0102_0304, 5, AckCodec.FLAG_CHUNK_COMPLETE);
        AckCodec.putEntry(buffer, 0, 1, 7, 0, 0);
        assertEquals(28, AckCodec.lengthFor(2));
        assertBytes("02000000 04030201 05000000 01000000 07000000 00000000 00000000", 0, 28);
    }

    @Test
    void errorBytes()
    {
        final int length = ErrorCodec.encode(buffer, 0, ErrorCode.PATH_REFUSED, "\u00e9!");
        assertEquals(9, length);
        assertBytes("0C000000 0300 C3A921", 0, 9);
    }

    @Test
    void wholeErrorFrameBytes()
    {
        buffer.setMemory(0, 32, (byte)0xEE);
        assertEquals(10, ErrorCodec.encodedLength("busy"));
        final int length = ErrorCodec.encodeFrame(buffer, 2, FrameType.COM_RES_ERROR, ErrorCode.TOO_MANY_CLONES, "busy");
        assertEquals(FrameHeader.HEADER_LENGTH + 10, length);
        assertBytes("12000000 6A00 0000 08000000 0400 62757379", 2, 18);
        assertEquals((byte)0xEE, buffer.getByte(1));
        assertEquals((byte)0xEE, buffer.getByte(20));
        assertEquals(ErrorCode.OK, ErrorCodec.validate(buffer, 2 + FrameHeader.HEADER_LENGTH, length - FrameHeader.HEADER_LENGTH));

        assertEquals(1030, ErrorCodec.MAX_LENGTH);
        assertEquals(1038, ErrorCodec.MAX_FRAME_LENGTH);
        final UnsafeBuffer big = new UnsafeBuffer(new byte[ErrorCodec.MAX_FRAME_LENGTH]);
        final String overlong = "x".repeat(2 * ErrorCodec.MAX_MESSAGE_BYTES);
        assertEquals(ErrorCodec.MAX_FRAME_LENGTH, ErrorCodec.encodeFrame(big, 0, FrameType.COM_EXIT, ErrorCode.OK, overlong));
        assertEquals(ErrorCodec.MAX_FRAME_LENGTH, FrameHeader.frameLength(big, 0));
        assertEquals(ErrorCodec.MAX_LENGTH, ErrorCodec.encodedLength(overlong));
        assertEquals(154, HelloCodec.MAX_LENGTH);
    }

    @Test
    void completeBytes()
    {
        assertEquals(32, CompleteCodec.encode(buffer, 0, Stage.FILE_COPY, 3, 0x0102_0304_0506_0708L));
        assertBytes("02000000 03000000 0807060504030201 0000000000000000 0000000000000000", 0, 32);
        assertEquals(32, CompleteCodec.encode(buffer, 0, Stage.FREEZE, 0, 5, 0x11, 0x2233));
        assertBytes("06000000 00000000 0500000000000000 1100000000000000 3322000000000000", 0, 32);
        assertEquals(4, ExecuteFlags.LIVE);
        assertEquals(2, DescriptorFlyweight.FILE_FLAG_RECENT);
        assertEquals(5, Stage.CHANGE_COPY);
        assertEquals(6, Stage.FREEZE);
        assertEquals(25, ErrorCode.HOOK_FAILED);
    }

    @Test
    void queuedBytes()
    {
        assertEquals(12, QueuedCodec.encode(buffer, 0, 2, 3, 0x0102_0304));
        assertBytes("02000000 03000000 04030201", 0, 12);
        assertEquals(ErrorCode.OK, QueuedCodec.validate(buffer, 0, 12));
        assertEquals(ErrorCode.MALFORMED_FRAME, QueuedCodec.validate(buffer, 0, 11), "exactly 12 bytes");
        QueuedCodec.encode(buffer, 0, 4, 3, 0);
        assertEquals(ErrorCode.MALFORMED_FRAME, QueuedCodec.validate(buffer, 0, 12), "position past the queue");
        QueuedCodec.encode(buffer, 0, 0, 3, 0);
        assertEquals(ErrorCode.MALFORMED_FRAME, QueuedCodec.validate(buffer, 0, 12), "position 0");
        QueuedCodec.encode(buffer, 0, 1, 1, -1);
        assertEquals(ErrorCode.MALFORMED_FRAME, QueuedCodec.validate(buffer, 0, 12), "negative running count");
    }

    @Test
    void configBytes()
    {
        final Map<String, String> config = new LinkedHashMap<>();
        config.put("k", "v");
        config.put("ab", "");
        assertEquals(16, ConfigCodec.encode(buffer, 0, config));
        assertBytes("02000000 0100 6B 0100 76 0200 6162 0000", 0, 16);
    }

    @Test
    void authBytes()
    {
        final byte[] nonce = new byte[32];
        final byte[] proof = new byte[32];
        for (int i = 0; i < 32; i++)
        {
            nonce[i] = (byte)i;
            proof[i] = (byte)(0x80 + i);
        }
        assertEquals(64, AuthCodec.encode(buffer, 0, nonce, proof));
        for (int i = 0; i < 32; i++)
        {
            assertEquals((byte)i, buffer.getByte(i));
            assertEquals((byte)(0x80 + i), buffer.getByte(32 + i));
        }
    }

    @Test
    void examplesInTheProtocolDocument()
    {
        // docs/PROTOCOL.md section 2: PING
        assertEquals(8, FrameHeader.write(buffer, 0, 8, FrameType.PING));
        assertBytes("08000000 1500 0000", 0, 8);

        // section 4.1: a client HELLO
        final int hello = HelloCodec.encode(buffer, 8, 1, 1, HelloCodec.ROLE_CLIENT,
            HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART, "ferry 0.1.0");
        FrameHeader.write(buffer, 0, 8 + hello, FrameType.HELLO);
        assertBytes("2D000000 1000 0000 46455252590D0A00 0100 0100 01000000 0300000000000000 " +
            "0B00 666572727920302E312E30", 0, 45);

        // section 4.5: a normal COM_EXIT body
        assertEquals(6, ErrorCodec.encode(buffer, 8, ErrorCode.OK, ""));
        assertBytes("00000000 0000", 8, 6);

        // section 4.8: a whole COM_RES_DATA_DESC frame with a DATA descriptor
        final int data = DescriptorFlyweight.encodeData(buffer, 8, 0x1122_3344, 0x0102_0304, 0x0506_0708,
            0x0102_0304_0506_0708L, 0x0A0B_0C0D, 0xCAFE_BABE, 3);
        FrameHeader.write(buffer, 0, 8 + data, FrameType.COM_RES_DATA_DESC);
        assertBytes("38000000 6600 0000 03000000 44332211 04030201 08070605 0807060504030201 " +
            "0D0C0B0A BEBAFECA 03000000 0D0C0B0A FFFFFFFFFFFFFFFF", 0, 56);
        assertEquals(ErrorCode.OK, new FrameValidator(FrameHeader.DEFAULT_MAX_FRAME_LENGTH).validate(buffer, 0, 56));

        // section 6.3: the bytes of a non-Ferry server fail the header check
        buffer.putBytes(0, Wire.utf8("HTTP/1.1 400 Bad Request\r\n"));
        assertEquals(1_347_703_880, FrameHeader.frameLength(buffer, 0));
        assertEquals(ErrorCode.FRAME_TOO_LARGE,
            new FrameValidator(FrameHeader.DEFAULT_MAX_FRAME_LENGTH).validate(buffer, 0, 26));
    }

    @Test
    void frameTypeNumbersAreFrozen()
    {
        final int[][] expected = {
            { FrameType.COM_INIT, 1 }, { FrameType.COM_ATTACH, 2 }, { FrameType.COM_REINIT, 3 },
            { FrameType.COM_EXECUTE, 4 }, { FrameType.COM_ACK, 5 }, { FrameType.COM_EXIT, 6 }, { FrameType.COM_HAVE, 7 },
            { FrameType.HELLO, 16 }, { FrameType.AUTH_CHALLENGE, 17 }, { FrameType.AUTH_RESPONSE, 18 },
            { FrameType.AUTH_OK, 19 }, { FrameType.COM_CLONE, 20 }, { FrameType.PING, 21 },
            { FrameType.COM_RES_LOCS, 101 }, { FrameType.COM_RES_DATA_DESC, 102 }, { FrameType.COM_RES_DATA, 103 },
            { FrameType.COM_RES_CONFIG, 104 }, { FrameType.COM_RES_COMPLETE, 105 }, { FrameType.COM_RES_ERROR, 106 },
            { FrameType.COM_RES_QUEUED, 107 },
        };
        int known = 0;
        for (final int[] e : expected)
        {
            assertEquals(e[1], e[0]);
        }
        for (int type = 0; type <= 0xFFFF; type++)
        {
            if (FrameType.isKnown(type))
            {
                known++;
                assertFalse(FrameType.name(type).startsWith("TYPE_"), "type " + type);
            }
            else
            {
                assertEquals("TYPE_" + type, FrameType.name(type));
            }
        }
        assertEquals(expected.length, known);
    }

    @Test
    void errorCodeNumbersAreFrozen()
    {
        final String[] names = {
            "OK", "MALFORMED_FRAME", "FRAME_TOO_LARGE", "UNKNOWN_COMMAND", "UNEXPECTED_COMMAND", "VERSION_MISMATCH",
            "BAD_LOCATOR", "UNKNOWN_SNAPSHOT", "TOO_MANY_CLONES", "CONFIG_MISMATCH", "FILE_CHANGED", "IO_ERROR",
            "PATH_REFUSED", "CHECKSUM_MISMATCH", "AUTH_FAILED", "NOT_FERRY", "TIMEOUT", "NETWORK", "TARGET_NOT_EMPTY",
            "DISK_FULL", "BAD_DESCRIPTOR", "INTERNAL", "CANCELLED", "TARGET_IN_USE",
            "DONOR_SHUTDOWN", "HOOK_FAILED" };
        for (int code = 0; code < names.length; code++)
        {
            assertEquals(names[code], ErrorCode.name(code));
        }
        assertEquals(22, ErrorCode.CANCELLED);
        assertEquals(5, ErrorCode.VERSION_MISMATCH);
        assertEquals(23, ErrorCode.TARGET_IN_USE);
        assertEquals(24, ErrorCode.DONOR_SHUTDOWN);
        assertTrue(ErrorCode.isRestartable(ErrorCode.DONOR_SHUTDOWN));
        for (int code = 0; code < names.length; code++)
        {
            assertEquals(names[code], FerryError.of(code).name(), "the enum mirrors the wire numbers");
            assertEquals(code, FerryError.of(code).code());
        }
        assertEquals(names.length + 1, FerryError.values().length, "every code, and UNKNOWN");
        assertEquals(FerryError.UNKNOWN, FerryError.of(99));
        assertEquals("ERROR_99", ErrorCode.name(99));
        assertEquals("ERROR_-1", ErrorCode.name(-1));
        assertEquals("", ErrorCode.hint(99));
        assertTrue(ErrorCode.isRestartable(ErrorCode.NETWORK));
        assertTrue(ErrorCode.isRestartable(ErrorCode.TIMEOUT));
        assertFalse(ErrorCode.isRestartable(ErrorCode.IO_ERROR));

        final FerryException e = new FerryException(ErrorCode.NETWORK, "lost donor:3306");
        assertTrue(e.isRestartable());
        assertEquals("NETWORK: lost donor:3306 (the connection was lost; retry with --resume)", e.describe());
        assertEquals("CANCELLED: stop", new FerryException(ErrorCode.CANCELLED, "stop").describe());
    }

    private void assertBytes(final String expectedHex, final int offset, final int length)
    {
        final String hex = expectedHex.replace(" ", "");
        assertEquals(2 * length, hex.length(), "expected hex has the wrong length");
        final StringBuilder actual = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            actual.append(String.format("%02X", buffer.getByte(offset + i) & 0xFF));
        }
        assertEquals(hex.toUpperCase(), actual.toString());
    }
}
