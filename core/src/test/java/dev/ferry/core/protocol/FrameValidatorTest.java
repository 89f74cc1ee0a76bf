package dev.ferry.core.protocol;

import java.util.Arrays;
import java.util.Random;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Whole frames, header and body, through {@link FrameValidator}: every valid frame passes, and each kind of damage
 * gets the code the protocol document promises.
 */
class FrameValidatorTest
{
    private static final int MAX = FrameHeader.DEFAULT_MAX_FRAME_LENGTH;

    private final FrameValidator validator = new FrameValidator(MAX);
    private final TestFrames frames = new TestFrames();

    // ---------------------------------------------------------------------------------------------------------------
    // valid frames

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void everyValidFrameTypePassesAtAnyOffsetWithOrWithoutTrailingBytes(final BufferKind kind)
    {
        final Random random = new Random(1);
        for (final int type : TestFrames.KNOWN_TYPES)
        {
            for (int i = 0; i < 20; i++)
            {
                final byte[] frame = frames.randomValid(type, random);
                assertEquals(type, FrameHeader.type(new UnsafeBuffer(frame), 0));
                for (final int offset : new int[]{ 0, 1, 8 })
                {
                    for (final int trailing : new int[]{ 0, 3 })
                    {
                        final UnsafeBuffer buffer = kind.allocate(offset + frame.length + trailing);
                        buffer.putBytes(offset, frame);
                        assertEquals(ErrorCode.OK, validator.validate(buffer, offset, frame.length + trailing),
                            () -> FrameType.name(type) + " " + hex(frame));
                    }
                }
            }
        }
    }

    @Test
    void validatorAndItsFlyweightAreReusableAcrossFrames()
    {
        final Random random = new Random(2);
        for (int i = 0; i < 2000; i++)
        {
            final byte[] frame = frames.randomValid(TestFrames.KNOWN_TYPES[i % TestFrames.KNOWN_TYPES.length], random);
            assertEquals(ErrorCode.OK, validate(frame));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // header

    @Test
    void frameShorterThanItsHeaderIsMalformed()
    {
        for (int available = 0; available < FrameHeader.HEADER_LENGTH; available++)
        {
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[available]);
            assertEquals(ErrorCode.MALFORMED_FRAME, validator.validate(buffer, 0, available));
        }
    }

    @Test
    void lengthBelowEightIsMalformedWhateverTheType()
    {
        for (final int length : new int[]{ Integer.MIN_VALUE, -1, 0, 1, 4, 7 })
        {
            for (final int type : new int[]{ FrameType.PING, 0, 0xFFFF })
            {
                final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64]);
                FrameHeader.write(buffer, 0, length, type);
                assertEquals(ErrorCode.MALFORMED_FRAME, validator.validate(buffer, 0, 64), "length " + length);
                assertEquals(ErrorCode.MALFORMED_FRAME, FrameHeader.validate(buffer, 0, MAX));
            }
        }
    }

    @Test
    void lengthAboveTheCapIsTooLargeBeforeAnyBodyArrives()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[FrameHeader.HEADER_LENGTH]);
        for (final int length : new int[]{ MAX + 1, MAX * 2, Integer.MAX_VALUE })
        {
            for (final int type : new int[]{ FrameType.COM_RES_DATA, 0, 999 })
            {
                FrameHeader.write(buffer, 0, length, type);
                assertEquals(ErrorCode.FRAME_TOO_LARGE, validator.validate(buffer, 0, FrameHeader.HEADER_LENGTH));
                assertEquals(ErrorCode.FRAME_TOO_LARGE, FrameHeader.validate(buffer, 0, MAX));
            }
        }
    }

    @Test
    void frameOfExactlyTheCapPasses()
    {
        final FrameValidator small = new FrameValidator(64);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[65]);
        FrameHeader.write(buffer, 0, 64, FrameType.COM_RES_DATA);
        assertEquals(ErrorCode.OK, small.validate(buffer, 0, 64));
        FrameHeader.write(buffer, 0, 65, FrameType.COM_RES_DATA);
        assertEquals(ErrorCode.FRAME_TOO_LARGE, small.validate(buffer, 0, 65));
    }

    @Test
    void everyUnknownTypeIsUnknownCommand()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[FrameHeader.HEADER_LENGTH]);
        int unknown = 0;
        for (int type = 0; type <= 0xFFFF; type++)
        {
            FrameHeader.write(buffer, 0, FrameHeader.HEADER_LENGTH, type);
            final int result = validator.validate(buffer, 0, FrameHeader.HEADER_LENGTH);
            if (!FrameType.isKnown(type))
            {
                unknown++;
                assertEquals(ErrorCode.UNKNOWN_COMMAND, result, "type " + type);
                assertEquals(ErrorCode.UNKNOWN_COMMAND, validator.validateBody(type, buffer, 8, 0));
            }
        }
        assertEquals(0x10000 - TestFrames.KNOWN_TYPES.length, unknown);
        for (final int type : new int[]{ 0, 8, 15, 22, 31, 100, 108, 127, 0xFFFF })
        {
            assertFalse(FrameType.isKnown(type), "type " + type);
        }
    }

    @Test
    void lengthBeyondWhatIsAvailableIsMalformed()
    {
        final byte[] frame = frames.randomValid(FrameType.HELLO, new Random(3));
        final UnsafeBuffer buffer = new UnsafeBuffer(frame);
        for (int available = FrameHeader.HEADER_LENGTH; available < frame.length; available++)
        {
            assertEquals(ErrorCode.MALFORMED_FRAME, validator.validate(buffer, 0, available));
        }
        assertEquals(ErrorCode.OK, validator.validate(buffer, 0, frame.length));
    }

    @Test
    void flagsAreNotInspected()
    {
        final byte[] frame = frames.frame(FrameType.PING, (b, o) -> 0);
        frame[FrameHeader.FLAGS_OFFSET] = (byte)0xFF;
        frame[FrameHeader.FLAGS_OFFSET + 1] = (byte)0xFF;
        assertEquals(ErrorCode.OK, validate(frame));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // empty bodies, data, exit

    @Test
    void executeCloneAndPingHaveEmptyBodies()
    {
        for (final int type : new int[]{ FrameType.COM_EXECUTE, FrameType.COM_CLONE, FrameType.PING })
        {
            assertEquals(ErrorCode.OK, validate(frames.frame(type, (b, o) -> 0)));
            assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(type, (b, o) -> 1)));
        }
    }

    @Test
    void executeMayCarryKnownFlagsOnly()
    {
        assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_EXECUTE,
            (b, o) -> { b.putInt(o, ExecuteFlags.METADATA_ONLY, Wire.BYTE_ORDER); return 4; })));
        assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_EXECUTE,
            (b, o) -> { b.putInt(o, ExecuteFlags.LIVE, Wire.BYTE_ORDER); return 4; })));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_EXECUTE,
            (b, o) -> { b.putInt(o, 1 << 20, Wire.BYTE_ORDER); return 4; })));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_EXECUTE, (b, o) -> 8)));
    }

    @Test
    void executeHashAheadCarriesItsNewerThanWithTheManifestOnly()
    {
        final int ahead = ExecuteFlags.METADATA_ONLY | ExecuteFlags.HASH_AHEAD;
        assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_EXECUTE, (b, o) ->
        {
            b.putInt(o, ahead, Wire.BYTE_ORDER);
            b.putLong(o + ExecuteFlags.NEWER_THAN_OFFSET, Long.MIN_VALUE, Wire.BYTE_ORDER);
            return ExecuteFlags.LENGTH_HASH_AHEAD;
        })));
        assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_EXECUTE, (b, o) ->
        {
            b.putInt(o, ahead | ExecuteFlags.LIVE, Wire.BYTE_ORDER);
            return ExecuteFlags.LENGTH_HASH_AHEAD;
        })));
        // the flag without its int64, the int64 without the flag, and the flag with anything but a manifest-only pass
        for (final int[] bad : new int[][]{ { ahead, 4 }, { ExecuteFlags.METADATA_ONLY, 12 },
            { ExecuteFlags.HASH_AHEAD, 12 }, { ahead | ExecuteFlags.CHECKSUMS_ONLY, 12 }, { ahead, 8 }, { ahead, 16 } })
        {
            assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_EXECUTE, (b, o) ->
            {
                b.putInt(o, bad[0], Wire.BYTE_ORDER);
                return bad[1];
            })), "flags " + bad[0] + ", " + bad[1] + " bytes");
        }
    }

    @Test
    void executeCompressCarriesALevelInRange()
    {
        for (final int level : new int[]{ ExecuteFlags.MIN_LEVEL, 3, ExecuteFlags.MAX_LEVEL })
        {
            final int flags = ExecuteFlags.compress(level);
            assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_EXECUTE,
                (b, o) -> { b.putInt(o, flags, Wire.BYTE_ORDER); return 4; })), "level " + level);
            assertEquals(level, ExecuteFlags.level(flags));
        }
        for (final int bad : new int[]{ ExecuteFlags.COMPRESS, ExecuteFlags.COMPRESS | 23 << ExecuteFlags.LEVEL_SHIFT,
            3 << ExecuteFlags.LEVEL_SHIFT, ExecuteFlags.compress(3) | 1 << 24, 1 << 8 })
        {
            assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_EXECUTE,
                (b, o) -> { b.putInt(o, bad, Wire.BYTE_ORDER); return 4; })), "flags " + Integer.toHexString(bad));
        }
    }

    @Test
    void dataBodyIsAnyLengthIncludingZero()
    {
        assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_RES_DATA, (b, o) -> 0)));
        assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_RES_DATA, (b, o) -> 100_000)));
    }

    @Test
    void exitCarriesAnErrorBodyEvenWhenItEndsNormally()
    {
        assertEquals(ErrorCode.OK, validate(frames.frame(FrameType.COM_EXIT, (b, o) -> ErrorCodec.encode(b, o, 0, ""))));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_EXIT, (b, o) -> 0)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // hello

    @Test
    void helloRejections()
    {
        final byte[] good = frames.frame(FrameType.HELLO,
            (b, o) -> HelloCodec.encode(b, o, 1, 2, HelloCodec.ROLE_CLIENT, 0, "x"));
        assertEquals(ErrorCode.OK, validate(good));

        byte[] f = good.clone();
        f[8] ^= 1;
        assertEquals(ErrorCode.NOT_FERRY, validate(f), "wrong magic");
        assertEquals(ErrorCode.NOT_FERRY, validate(frames.frame(FrameType.HELLO, (b, o) -> 7)), "shorter than magic");
        assertEquals(ErrorCode.NOT_FERRY, validate(frames.frame(FrameType.HELLO, (b, o) ->
        {
            b.putBytes(o, Wire.utf8("GET / HTTP/1.1\r\n"));
            return 16;
        })), "an HTTP request");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.HELLO, (b, o) ->
        {
            b.putLong(o, HelloCodec.MAGIC, Wire.BYTE_ORDER);
            return 25;
        })), "magic but too short");

        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withShort(good, 8 + HelloCodec.PROTOCOL_MIN_OFFSET, 0)), "min 0");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withShort(good, 8 + HelloCodec.PROTOCOL_MIN_OFFSET, 3)), "max < min");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(good, 8 + HelloCodec.ROLE_OFFSET, 0)), "role 0");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(good, 8 + HelloCodec.ROLE_OFFSET, 3)), "role 3");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withShort(good, 8 + HelloCodec.VERSION_OFFSET, 2)), "string overrun");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withShort(good, 8 + HelloCodec.VERSION_OFFSET, 0)), "trailing byte");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.HELLO, (b, o) ->
        {
            final int n = HelloCodec.encode(b, o, 1, 1, HelloCodec.ROLE_CLIENT, 0, "");
            b.putShort(o + HelloCodec.VERSION_OFFSET, (short)(HelloCodec.MAX_VERSION_BYTES + 1), Wire.BYTE_ORDER);
            return n + HelloCodec.MAX_VERSION_BYTES + 1;
        })), "version above its cap");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // locators

    @Test
    void locatorRejections()
    {
        final byte[] real = frames.frame(FrameType.COM_ATTACH,
            (b, o) -> LocatorCodec.encode(b, o, Locator.real(1, 1, 42, 3, Stage.FILE_COPY)));
        assertEquals(ErrorCode.OK, validate(real));
        final int o = FrameHeader.HEADER_LENGTH;

        assertEquals(ErrorCode.MALFORMED_FRAME, validate(truncate(real, real.length - 1)), "23 bytes");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withByte(real, o + LocatorCodec.KIND_OFFSET, 0)), "kind 0");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withByte(real, o + LocatorCodec.KIND_OFFSET, 4)), "kind 4");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withByte(real, o + LocatorCodec.STAGE_OFFSET, Stage.FREEZE + 1)), "stage");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withShort(real, o + LocatorCodec.PROTOCOL_MIN_OFFSET, 0)), "min 0");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withShort(real, o + LocatorCodec.PROTOCOL_MIN_OFFSET, 2)), "max < min");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(real, o + LocatorCodec.TASK_OFFSET, -1)), "task -1");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(real, o + LocatorCodec.TASK_OFFSET, LocatorCodec.MAX_TASKS)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(real, o + LocatorCodec.APPLIED_LENGTH_OFFSET, 8)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(real, 8)), "applied bytes on a real locator");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(extend(real, 8), o + LocatorCodec.APPLIED_LENGTH_OFFSET, 8)),
            "applied state on a real locator");

        final AppliedState state = new AppliedState(10);
        state.onApplied(2, 5, false);
        state.onApplied(4, 0, true);
        final byte[] restart = frames.frame(FrameType.COM_REINIT,
            (b, off) -> LocatorCodec.encode(b, off, Locator.real(1, 1, 42, 0, Stage.FILE_COPY).restart(state)));
        assertEquals(ErrorCode.OK, validate(restart));
        final int a = o + LocatorCodec.FIXED_LENGTH;
        final byte[] realAsRestart = frames.frame(FrameType.COM_REINIT,
            (b, off) -> LocatorCodec.encode(b, off, Locator.real(1, 1, 42, 0, Stage.FILE_COPY)));
        realAsRestart[o + LocatorCodec.KIND_OFFSET] = (byte)Locator.KIND_RESTART;
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(realAsRestart), "restart without an applied state");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(restart, a, -1)), "chunks -1");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(restart, a, LocatorCodec.MAX_CHUNKS + 1)), "chunks cap");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(restart, a, 17)), "bitmap size disagrees");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(restart, a + 4, 11)), "partial > chunks");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(restart, a + 4, -1)), "partial -1");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(restart, a + 4, 0)), "partial count disagrees");
        final int entry = a + 8 + 2;
        assertEquals(2, new UnsafeBuffer(restart).getInt(entry, Wire.BYTE_ORDER));
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(restart, entry, 10)), "entry chunk out of range");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(restart, entry, -1)), "entry chunk negative");
        assertEquals(ErrorCode.BAD_LOCATOR, validate(withInt(restart, entry + 4, 0)), "entry with no blocks");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(truncate(restart, restart.length - 1)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // descriptors

    @Test
    void descriptorRejections()
    {
        final int o = FrameHeader.HEADER_LENGTH;
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_DATA_DESC, (b, off) -> 3)));
        for (final int type : new int[]{ 0, 4, 255 })
        {
            assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_DATA_DESC, (b, off) ->
            {
                b.setMemory(off, 40, (byte)0);
                b.putByte(off, (byte)type);
                return 40;
            })), "descriptor type " + type);
        }

        final byte[] state = frames.frame(FrameType.COM_RES_DATA_DESC,
            (b, off) -> DescriptorFlyweight.encodeState(b, off, Stage.METADATA, 1, 1, 1, 4096));
        assertEquals(ErrorCode.OK, validate(state));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(state, 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(truncate(state, state.length - 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(state, o + DescriptorFlyweight.STATE_STAGE_OFFSET, Stage.FREEZE + 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(state, o + DescriptorFlyweight.STATE_FILES_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(state, o + DescriptorFlyweight.STATE_CHUNKS_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(state, o + DescriptorFlyweight.STATE_BYTES_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(state, o + DescriptorFlyweight.STATE_BLOCK_SIZE_OFFSET, 0)));

        final byte[] file = frames.frame(FrameType.COM_RES_DATA_DESC, (b, off) -> DescriptorFlyweight.encodeFile(
            b, off, 1, 10, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 1, Wire.utf8("ab"), new byte[0]));
        assertEquals(ErrorCode.OK, validate(file));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(file, 1)), "trailing byte");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(truncate(file, file.length - 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(file, o + DescriptorFlyweight.FILE_INDEX_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(file, o + DescriptorFlyweight.FILE_SIZE_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(file, o + DescriptorFlyweight.FILE_MODE_OFFSET, 010000)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(file, o + DescriptorFlyweight.FILE_MODE_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withByte(file, o + DescriptorFlyweight.FILE_TYPE_OFFSET, 0)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withByte(file, o + DescriptorFlyweight.FILE_TYPE_OFFSET, 4)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(file, o + DescriptorFlyweight.FILE_FIRST_CHUNK_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(file, o + DescriptorFlyweight.FILE_CHUNK_SPAN_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withShort(file, o + DescriptorFlyweight.FILE_PATH_OFFSET, 5)),
            "path runs past the body");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withShort(file, o + DescriptorFlyweight.FILE_PATH_OFFSET, 0xFFFF)));
        assertEquals(ErrorCode.OK, validate(withByte(file, o + DescriptorFlyweight.FILE_TYPE_OFFSET, 2)), "a directory");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_DATA_DESC, (b, off) ->
            DescriptorFlyweight.encodeFile(b, off, 1, 0, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 0,
                Wire.utf8("f"), Wire.utf8("t")))), "target on a regular file");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_DATA_DESC, (b, off) ->
        {
            DescriptorFlyweight.encodeFile(b, off, 1, 0, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 0,
                new byte[0], new byte[0]);
            b.putShort(off + DescriptorFlyweight.FILE_PATH_OFFSET, (short)(Wire.MAX_STRING_BYTES + 1), Wire.BYTE_ORDER);
            b.setMemory(off + DescriptorFlyweight.FILE_PATH_OFFSET + 2, Wire.MAX_STRING_BYTES + 1, (byte)'a');
            b.putShort(off + DescriptorFlyweight.FILE_PATH_OFFSET + 2 + Wire.MAX_STRING_BYTES + 1, (short)0, Wire.BYTE_ORDER);
            return DescriptorFlyweight.FILE_MIN_LENGTH + Wire.MAX_STRING_BYTES + 1;
        })), "path above the string cap");

        final byte[] data = frames.frame(FrameType.COM_RES_DATA_DESC,
            (b, off) -> DescriptorFlyweight.encodeData(b, off, 0, 0, 0, 0, 10, 0, 3));
        assertEquals(ErrorCode.OK, validate(data));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(data, 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(truncate(data, data.length - 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_FILE_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_CHUNK_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_BLOCK_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(data, o + DescriptorFlyweight.DATA_POSITION_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_LENGTH_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_FLAGS_OFFSET, 32)));
        assertEquals(ErrorCode.OK, validate(withInt(data, o + DescriptorFlyweight.DATA_FLAGS_OFFSET, 8)), "flag 8: same");
        assertEquals(ErrorCode.OK, validate(withInt(data, o + DescriptorFlyweight.DATA_FLAGS_OFFSET, 16 | 3)), "flag 16: zstd");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_FLAGS_OFFSET, 16 | 4)),
            "zstd without a body");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_BODY_LENGTH_OFFSET, 11)), "body past the block");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(data, o + DescriptorFlyweight.DATA_BODY_LENGTH_OFFSET, -1)));
        assertEquals(ErrorCode.OK, validate(withInt(data, o + DescriptorFlyweight.DATA_CRC_OFFSET, -1)), "CRC is any int");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // ack, error, config, complete, auth

    @Test
    void ackRejections()
    {
        final byte[] ack = frames.frame(FrameType.COM_ACK, (b, o) ->
        {
            AckCodec.putCount(b, o, 2);
            AckCodec.putEntry(b, o, 0, 1, 2, 0);
            AckCodec.putEntry(b, o, 1, 3, 4, 1);
            return AckCodec.lengthFor(2);
        });
        final int o = FrameHeader.HEADER_LENGTH;
        assertEquals(ErrorCode.OK, validate(ack));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_ACK, (b, off) -> 3)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(ack, o, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(ack, o, 3)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(ack, o, Integer.MAX_VALUE)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(ack, o + 4, -1)), "chunk");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(ack, o + 8, -1)), "blocks");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(ack, o + 12, 2)), "flags");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(ack, 1)));
    }

    @Test
    void errorRejections()
    {
        final byte[] error = frames.frame(FrameType.COM_RES_ERROR, (b, o) -> ErrorCodec.encode(b, o, 5, "abc"));
        final int o = FrameHeader.HEADER_LENGTH;
        assertEquals(ErrorCode.OK, validate(error));
        assertEquals(ErrorCode.OK, validate(withInt(error, o, -7)), "any code travels");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_ERROR, (b, off) -> 5)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(error, 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(truncate(error, error.length - 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_ERROR, (b, off) ->
        {
            b.putInt(off, 1, Wire.BYTE_ORDER);
            b.putShort(off + 4, (short)(ErrorCodec.MAX_MESSAGE_BYTES + 1), Wire.BYTE_ORDER);
            b.setMemory(off + 6, ErrorCodec.MAX_MESSAGE_BYTES + 1, (byte)'m');
            return 6 + ErrorCodec.MAX_MESSAGE_BYTES + 1;
        })), "message above its cap");
    }

    @Test
    void configRejections()
    {
        final int o = FrameHeader.HEADER_LENGTH;
        final byte[] config = frames.frame(FrameType.COM_RES_CONFIG, (b, off) ->
        {
            b.putInt(off, 1, Wire.BYTE_ORDER);
            int p = off + 4;
            p += Wire.putString(b, p, Wire.utf8("k"));
            p += Wire.putString(b, p, Wire.utf8("v"));
            return p - off;
        });
        assertEquals(ErrorCode.OK, validate(config));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_CONFIG, (b, off) -> 3)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(config, o, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(config, o, 2)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(config, o, 0)), "pairs short of the body");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(config, o, ConfigCodec.MAX_PAIRS + 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(config, 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_CONFIG, (b, off) ->
        {
            b.putInt(off, 1, Wire.BYTE_ORDER);
            int p = off + 4;
            p += Wire.putString(b, p, new byte[ConfigCodec.MAX_KEY_BYTES + 1]);
            p += Wire.putString(b, p, new byte[0]);
            return p - off;
        })), "key above its cap");
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(FrameType.COM_RES_CONFIG, (b, off) ->
        {
            b.putInt(off, 1, Wire.BYTE_ORDER);
            int p = off + 4;
            p += Wire.putString(b, p, new byte[1]);
            p += Wire.putString(b, p, new byte[ConfigCodec.MAX_VALUE_BYTES + 1]);
            return p - off;
        })), "value above its cap");
        final byte[] empty = frames.frame(FrameType.COM_RES_CONFIG, (b, off) ->
        {
            b.putInt(off, 0, Wire.BYTE_ORDER);
            return 4;
        });
        assertEquals(ErrorCode.OK, validate(empty));
    }

    @Test
    void completeRejections()
    {
        final int o = FrameHeader.HEADER_LENGTH;
        final byte[] complete = frames.frame(FrameType.COM_RES_COMPLETE,
            (b, off) -> CompleteCodec.encode(b, off, Stage.FILE_COPY, 0, 0));
        assertEquals(ErrorCode.OK, validate(complete));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(extend(complete, 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(truncate(complete, complete.length - 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(complete, o, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(complete, o, Stage.FREEZE + 1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(complete, o + CompleteCodec.CHANGED_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(complete, o + CompleteCodec.FROZEN_NANOS_OFFSET, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withInt(complete, o + 4, -1)));
        assertEquals(ErrorCode.MALFORMED_FRAME, validate(withLong(complete, o + 8, -1)));
    }

    @Test
    void authBodiesAreExactly64Bytes()
    {
        for (final int type : new int[]{ FrameType.AUTH_CHALLENGE, FrameType.AUTH_RESPONSE, FrameType.AUTH_OK })
        {
            assertEquals(ErrorCode.OK, validate(frames.frame(type, (b, o) -> 64)));
            assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(type, (b, o) -> 63)));
            assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(type, (b, o) -> 65)));
            assertEquals(ErrorCode.MALFORMED_FRAME, validate(frames.frame(type, (b, o) -> 0)));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // helpers

    private int validate(final byte[] frame)
    {
        return validator.validate(new UnsafeBuffer(frame), 0, frame.length);
    }

    private static byte[] withByte(final byte[] frame, final int index, final int value)
    {
        final byte[] f = frame.clone();
        new UnsafeBuffer(f).putByte(index, (byte)value);
        return f;
    }

    private static byte[] withShort(final byte[] frame, final int index, final int value)
    {
        final byte[] f = frame.clone();
        new UnsafeBuffer(f).putShort(index, (short)value, Wire.BYTE_ORDER);
        return f;
    }

    private static byte[] withInt(final byte[] frame, final int index, final int value)
    {
        final byte[] f = frame.clone();
        new UnsafeBuffer(f).putInt(index, value, Wire.BYTE_ORDER);
        return f;
    }

    private static byte[] withLong(final byte[] frame, final int index, final long value)
    {
        final byte[] f = frame.clone();
        new UnsafeBuffer(f).putLong(index, value, Wire.BYTE_ORDER);
        return f;
    }

    /** The frame with {@code extra} zero bytes appended and its length field raised to match. */
    static byte[] extend(final byte[] frame, final int extra)
    {
        final byte[] f = Arrays.copyOf(frame, frame.length + extra);
        new UnsafeBuffer(f).putInt(FrameHeader.LENGTH_OFFSET, f.length, Wire.BYTE_ORDER);
        return f;
    }

    /** The frame cut to {@code length} bytes, its length field lowered to match. */
    static byte[] truncate(final byte[] frame, final int length)
    {
        final byte[] f = Arrays.copyOf(frame, length);
        new UnsafeBuffer(f).putInt(FrameHeader.LENGTH_OFFSET, length, Wire.BYTE_ORDER);
        return f;
    }

    static String hex(final byte[] bytes)
    {
        final StringBuilder sb = new StringBuilder(2 * bytes.length);
        for (final byte b : bytes)
        {
            sb.append(String.format("%02x", b & 0xFF));
        }
        return sb.toString();
    }
}
