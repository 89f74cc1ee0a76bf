package dev.ferry.core.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.ToIntFunction;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every body and descriptor: encode at an odd offset into each kind of buffer, check the codec wrote only its own
 * bytes, validate, decode and compare every field.
 */
class CodecRoundTripTest
{
    /** Odd, so no field is naturally aligned. */
    private static final int OFFSET = 5;
    private static final int TAIL = 7;

    private final DescriptorFlyweight descriptor = new DescriptorFlyweight();

    // ---------------------------------------------------------------------------------------------------------------
    // locators

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void versionLocatorRoundTrips(final BufferKind kind)
    {
        assertLocatorRoundTrips(kind, Locator.version(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX));
        assertLocatorRoundTrips(kind, Locator.version(0xFFFF, 1, 0xFFFF));
        assertLocatorRoundTrips(kind, Locator.version(0, 3, 3));
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void realLocatorRoundTrips(final BufferKind kind)
    {
        for (int stage = Stage.NONE; stage <= Stage.DONE; stage++)
        {
            assertLocatorRoundTrips(kind, Locator.real(Locator.ENGINE_FILE_TREE, 1, 0x0123_4567_89AB_CDEFL, 0, stage));
        }
        assertLocatorRoundTrips(kind, Locator.real(7, 2, -1L, LocatorCodec.MAX_TASKS - 1, Stage.FILE_COPY));
        assertLocatorRoundTrips(kind, Locator.real(0xFFFF, 0xFFFF, Long.MIN_VALUE, 1, Stage.METADATA));
        assertLocatorRoundTrips(kind, Locator.real(1, 1, 0xCAFE_BABEL, 3, Stage.FILE_COPY).withTask(9).withStage(Stage.FILE_SYNC));
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void restartLocatorRoundTripsForEveryChunkCountAndPattern(final BufferKind kind)
    {
        final int[] chunkCounts = { 0, 1, 2, 7, 8, 9, 13, 15, 16, 17, 63, 64, 65, 127, 1000, 1001, 4099 };
        final Locator real = Locator.real(Locator.ENGINE_FILE_TREE, 1, 0x5EED_0000_0001L, 4, Stage.FILE_COPY);
        for (final int chunks : chunkCounts)
        {
            for (int pattern = 0; pattern < 5; pattern++)
            {
                final AppliedState state = pattern(chunks, pattern);
                final Locator restart = real.restart(state);
                final int expectedLength = LocatorCodec.FIXED_LENGTH + 8 + (chunks + 7) / 8 + 8 * state.partialCount();
                assertEquals(expectedLength, LocatorCodec.encodedLength(restart), "chunks=" + chunks + " pattern=" + pattern);
                assertLocatorRoundTrips(kind, restart);
            }
        }
    }

    @Test
    void restartLocatorWithRandomStatesRoundTrips()
    {
        final Random random = new Random(42);
        for (int i = 0; i < 300; i++)
        {
            final int chunks = random.nextInt(300);
            final AppliedState state = new AppliedState(chunks);
            for (int c = 0; c < chunks; c++)
            {
                switch (random.nextInt(3))
                {
                    case 0: state.onApplied(c, 1 + random.nextInt(Integer.MAX_VALUE - 1), false); break;
                    case 1: state.onApplied(c, random.nextInt(64), true); break;
                    default: break;
                }
            }
            final Locator restart = Locator.real(1, 1, random.nextLong(), random.nextInt(LocatorCodec.MAX_TASKS),
                random.nextInt(Stage.DONE + 1)).restart(state);
            assertLocatorRoundTrips(BufferKind.values()[i % 3], restart);
        }
    }

    @Test
    void largestRestartLocatorFitsInADefaultFrameAndRoundTrips()
    {
        final AppliedState state = new AppliedState(LocatorCodec.MAX_CHUNKS);
        for (int c = 0; c < LocatorCodec.MAX_CHUNKS; c += 3)
        {
            state.onApplied(c, 0, true);
        }
        state.onApplied(1, 5, false);
        state.onApplied(LocatorCodec.MAX_CHUNKS - 2, 1, false); // (MAX_CHUNKS - 1) % 3 == 0: already complete
        final Locator restart = Locator.real(1, 1, 77, 0, Stage.FILE_COPY).restart(state);
        final int length = LocatorCodec.encodedLength(restart);
        assertEquals(LocatorCodec.FIXED_LENGTH + 8 + LocatorCodec.MAX_CHUNKS / 8 + 16, length);

        final UnsafeBuffer frame = BufferKind.DIRECT_BYTE_BUFFER.allocate(FrameHeader.HEADER_LENGTH + length);
        FrameHeader.write(frame, 0, FrameHeader.HEADER_LENGTH + length, FrameType.COM_REINIT);
        assertEquals(length, LocatorCodec.encode(frame, FrameHeader.HEADER_LENGTH, restart));
        assertEquals(ErrorCode.OK, new FrameValidator(FrameHeader.DEFAULT_MAX_FRAME_LENGTH)
            .validate(frame, 0, frame.capacity()));
        assertEquals(restart, LocatorCodec.decode(frame, FrameHeader.HEADER_LENGTH));
    }

    /**
     * Patterns: 0 nothing applied, 1 all complete, 2 only partial chunks, 3 mixed, 4 complete chunks that also
     * recorded blocks (the blocks of a complete chunk are not carried).
     */
    static AppliedState pattern(final int chunks, final int pattern)
    {
        final AppliedState state = new AppliedState(chunks);
        for (int c = 0; c < chunks; c++)
        {
            switch (pattern)
            {
                case 1:
                    state.onApplied(c, 0, true);
                    break;
                case 2:
                    state.onApplied(c, c + 1, false);
                    break;
                case 3:
                    if (c % 3 == 0)
                    {
                        state.onApplied(c, 64, true);
                    }
                    else if (c % 3 == 1)
                    {
                        state.onApplied(c, c, false);
                    }
                    break;
                case 4:
                    state.onApplied(c, 17, c % 2 == 0);
                    break;
                default:
                    break;
            }
        }
        return state;
    }

    private static void assertLocatorRoundTrips(final BufferKind kind, final Locator locator)
    {
        final int length = LocatorCodec.encodedLength(locator);
        final UnsafeBuffer buffer = encode(kind, length, (b) -> LocatorCodec.encode(b, OFFSET, locator));
        assertEquals(ErrorCode.OK, LocatorCodec.validate(buffer, OFFSET, length), locator::toString);
        assertEquals(length - LocatorCodec.FIXED_LENGTH,
            buffer.getInt(OFFSET + LocatorCodec.APPLIED_LENGTH_OFFSET, Wire.BYTE_ORDER));

        final Locator decoded = LocatorCodec.decode(buffer, OFFSET);
        assertEquals(locator.engineId(), decoded.engineId());
        assertEquals(locator.kind(), decoded.kind());
        assertEquals(locator.protocolMin(), decoded.protocolMin());
        assertEquals(locator.protocolMax(), decoded.protocolMax());
        assertEquals(locator.protocol(), decoded.protocol());
        assertEquals(locator.snapshotId(), decoded.snapshotId());
        assertEquals(locator.taskIndex(), decoded.taskIndex());
        assertEquals(locator.stage(), decoded.stage());
        if (locator.applied() == null)
        {
            assertNull(decoded.applied());
        }
        else
        {
            final AppliedState expected = locator.applied();
            final AppliedState actual = decoded.applied();
            assertEquals(expected.chunkCount(), actual.chunkCount());
            assertEquals(expected.completeCount(), actual.completeCount());
            assertEquals(expected.partialCount(), actual.partialCount());
            assertEquals(expected.allComplete(), actual.allComplete());
            for (int c = 0; c < expected.chunkCount(); c++)
            {
                assertEquals(expected.isComplete(c), actual.isComplete(c), "chunk " + c);
                if (!expected.isComplete(c))
                {
                    assertEquals(expected.appliedBlocks(c), actual.appliedBlocks(c), "chunk " + c);
                }
            }
            assertEquals(expected, actual);
        }
        assertEquals(locator, decoded);
        assertEquals(locator.hashCode(), decoded.hashCode());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // descriptors

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void stateDescriptorRoundTrips(final BufferKind kind)
    {
        final long[][] values = {
            { Stage.METADATA, 0, 0, 0, 4096 },
            { Stage.FILE_COPY, 123_456, 789, 51_539_607_552L, 1 << 20 },
            { Stage.DONE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Integer.MAX_VALUE },
            { Stage.NONE, 1, 2, 3, 1 },
        };
        for (final long[] v : values)
        {
            final UnsafeBuffer buffer = encode(kind, DescriptorFlyweight.STATE_LENGTH, (b) ->
                DescriptorFlyweight.encodeState(b, OFFSET, (int)v[0], v[1], v[2], v[3], (int)v[4]));
            final DescriptorFlyweight d = descriptor.wrap(buffer, OFFSET, DescriptorFlyweight.STATE_LENGTH);
            assertEquals(ErrorCode.OK, d.validate());
            assertEquals(DescriptorFlyweight.TYPE_STATE, d.type());
            assertEquals(v[0], d.stage());
            assertEquals(v[1], d.fileCount());
            assertEquals(v[2], d.chunkCount());
            assertEquals(v[3], d.estimatedBytes());
            assertEquals(v[4], d.blockSize());
            assertEquals(buffer, d.buffer());
            assertEquals(OFFSET, d.offset());
            assertEquals(DescriptorFlyweight.STATE_LENGTH, d.length());
        }
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void fileDescriptorRoundTripsWithAwkwardPaths(final BufferKind kind)
    {
        final String[] paths = {
            "a",
            "dir with spaces/file name.txt",
            "na\u00efve/\u65e5\u672c\u8a9e/\u2603 snow\u2603.dat",
            "line\nbreak/and\ttab/and\rreturn",
            "emoji/\ud83d\ude00\ud83d\udc4d.bin",
            " leading and trailing ",
            "",
            "x".repeat(Wire.MAX_STRING_BYTES),
            "\u20ac".repeat(Wire.MAX_STRING_BYTES / 3),
        };
        int index = 0;
        for (final String path : paths)
        {
            assertFileRoundTrips(kind, index, 0, 1_700_000_000_123_456_789L, 0644, DescriptorFlyweight.FILE_REGULAR,
                index, 1, path, "");
            assertFileRoundTrips(kind, index + 1, 0, -1_000_000_000L, 0755, DescriptorFlyweight.FILE_DIRECTORY, 0, 0,
                path, "");
            index += 2;
        }
        assertFileRoundTrips(kind, Integer.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, 07777,
            DescriptorFlyweight.FILE_REGULAR, Integer.MAX_VALUE, Integer.MAX_VALUE, "big", "");
        assertFileRoundTrips(kind, 0, 0, Long.MIN_VALUE, 0, DescriptorFlyweight.FILE_REGULAR, 0, 0, "empty", "");
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void symlinkDescriptorCarriesItsTarget(final BufferKind kind)
    {
        assertFileRoundTrips(kind, 3, 14, 1L, 0777, DescriptorFlyweight.FILE_SYMLINK, 0, 0,
            "links/to parent", "../t\u00e5rget \u2713\n/");
        assertFileRoundTrips(kind, 4, 0, 1L, 0777, DescriptorFlyweight.FILE_SYMLINK, 0, 0, "dangling", "");
        assertFileRoundTrips(kind, 5, 0, 1L, 0777, DescriptorFlyweight.FILE_SYMLINK, 0, 0,
            "y".repeat(Wire.MAX_STRING_BYTES), "z".repeat(Wire.MAX_STRING_BYTES));
    }

    private void assertFileRoundTrips(
        final BufferKind kind, final int index, final long size, final long mtime, final int mode, final int type,
        final int firstChunk, final int span, final String path, final String target)
    {
        final byte[] p = path.getBytes(StandardCharsets.UTF_8);
        final byte[] t = target.getBytes(StandardCharsets.UTF_8);
        final int length = DescriptorFlyweight.fileLength(p, t);
        assertEquals(DescriptorFlyweight.FILE_MIN_LENGTH + p.length + t.length, length);
        final UnsafeBuffer buffer = encode(kind, length, (b) ->
            DescriptorFlyweight.encodeFile(b, OFFSET, index, size, mtime, mode, type, firstChunk, span, p, t));
        final DescriptorFlyweight d = descriptor.wrap(buffer, OFFSET, length);
        assertEquals(ErrorCode.OK, d.validate(), path);
        assertEquals(DescriptorFlyweight.TYPE_FILE, d.type());
        assertEquals(index, d.fileIndex());
        assertEquals(size, d.fileSize());
        assertEquals(mtime, d.mtimeNanos());
        assertEquals(mode, d.mode());
        assertEquals(type, d.fileType());
        assertEquals(firstChunk, d.firstChunk());
        assertEquals(span, d.chunkSpan());
        assertEquals(path, d.path());
        assertArrayEquals(p, d.pathBytes());
        assertEquals(target, d.linkTarget());
        assertArrayEquals(t, d.linkTargetBytes());
    }

    @Test
    void pathLongerThanTheStringCapIsRefusedByTheEncoder()
    {
        final byte[] tooLong = new byte[Wire.MAX_STRING_BYTES + 1];
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[2 * Wire.MAX_STRING_BYTES + 64]);
        final FerryException e = assertThrows(FerryException.class, () -> DescriptorFlyweight.encodeFile(
            buffer, 0, 0, 0, 0, 0644, DescriptorFlyweight.FILE_REGULAR, 0, 0, tooLong, new byte[0]));
        assertEquals(ErrorCode.INTERNAL, e.code());
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void dataDescriptorRoundTrips(final BufferKind kind)
    {
        final long[][] values = {
            { 0, 0, 0, 0, 0, 0, 0 },
            { 17, 3, 63, 201_326_592L + 63L * 1048576, 1 << 20, 0xCAFEBABE, 3 },
            { Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE, Long.MAX_VALUE, Integer.MAX_VALUE, -1, 1 },
            { 5, 1, 2, 5_000_000_000L, 12_345, 0x1234_5678, 2 },
        };
        for (final long[] v : values)
        {
            final UnsafeBuffer buffer = encode(kind, DescriptorFlyweight.DATA_LENGTH, (b) -> DescriptorFlyweight.encodeData(
                b, OFFSET, (int)v[0], (int)v[1], (int)v[2], v[3], (int)v[4], (int)v[5], (int)v[6]));
            final DescriptorFlyweight d = descriptor.wrap(buffer, OFFSET, DescriptorFlyweight.DATA_LENGTH);
            assertEquals(ErrorCode.OK, d.validate());
            assertEquals(DescriptorFlyweight.TYPE_DATA, d.type());
            assertEquals(v[0], d.fileIndex());
            assertEquals(v[1], d.dataChunk());
            assertEquals(v[2], d.dataBlock());
            assertEquals(v[3], d.dataPosition());
            assertEquals(v[4], d.dataLength());
            assertEquals((int)v[5], d.dataCrc());
            assertEquals(v[6], d.dataFlags());
            assertEquals((v[6] & DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK) != 0, d.isLastInChunk());
            assertEquals((v[6] & DescriptorFlyweight.DATA_FLAG_CRC) != 0, d.hasCrc());
        }
    }

    @Test
    void oneFlyweightRewrapsAcrossDescriptorsWithoutLeakingState()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);
        final int state = DescriptorFlyweight.encodeState(buffer, 0, Stage.METADATA, 2, 1, 10, 4096);
        final byte[] path = Wire.utf8("p");
        final int file = DescriptorFlyweight.encodeFile(buffer, state, 0, 10, 0, 0600, DescriptorFlyweight.FILE_REGULAR,
            0, 1, path, new byte[0]);
        DescriptorFlyweight.encodeData(buffer, state + file, 0, 0, 0, 0, 10, 0, 1);

        assertEquals(DescriptorFlyweight.TYPE_STATE, descriptor.wrap(buffer, 0, state).type());
        assertEquals(ErrorCode.OK, descriptor.validate());
        assertEquals(DescriptorFlyweight.TYPE_FILE, descriptor.wrap(buffer, state, file).type());
        assertEquals(ErrorCode.OK, descriptor.validate());
        assertEquals("p", descriptor.path());
        assertEquals(DescriptorFlyweight.TYPE_DATA, descriptor.wrap(buffer, state + file, 48).type());
        assertEquals(ErrorCode.OK, descriptor.validate());
        assertEquals(10, descriptor.dataLength());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // hello

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void helloRoundTrips(final BufferKind kind)
    {
        assertHelloRoundTrips(kind, Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX, HelloCodec.ROLE_CLIENT, 0, "ferry 0.1.0");
        assertHelloRoundTrips(kind, 1, 0xFFFF, HelloCodec.ROLE_DONOR,
            HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART | HelloCodec.FEATURE_AUTH_REQUIRED |
            HelloCodec.FEATURE_TLS, "ferry \u2713 d\u00e9v-build (jdk 17)");
        assertHelloRoundTrips(kind, 2, 2, HelloCodec.ROLE_CLIENT, -1L, "");
        assertHelloRoundTrips(kind, 1, 1, HelloCodec.ROLE_DONOR, Long.MIN_VALUE, "v".repeat(HelloCodec.MAX_VERSION_BYTES));
    }

    private static void assertHelloRoundTrips(
        final BufferKind kind, final int min, final int max, final int role, final long features, final String version)
    {
        final int length = HelloCodec.VERSION_OFFSET + Wire.stringSize(Wire.utf8(version));
        final UnsafeBuffer buffer = encode(kind, length, (b) -> HelloCodec.encode(b, OFFSET, min, max, role, features, version));
        assertEquals(ErrorCode.OK, HelloCodec.validate(buffer, OFFSET, length));
        assertEquals(HelloCodec.MAGIC, buffer.getLong(OFFSET + HelloCodec.MAGIC_OFFSET, Wire.BYTE_ORDER));
        assertEquals(min, HelloCodec.protocolMin(buffer, OFFSET));
        assertEquals(max, HelloCodec.protocolMax(buffer, OFFSET));
        assertEquals(role, HelloCodec.role(buffer, OFFSET));
        assertEquals(features, HelloCodec.features(buffer, OFFSET));
        assertEquals(version, HelloCodec.softwareVersion(buffer, OFFSET));
    }

    @Test
    void helloTruncatesAnOverlongAsciiVersionToTheCap()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[512]);
        final int length = HelloCodec.encode(buffer, 0, 1, 1, HelloCodec.ROLE_CLIENT, 0, "w".repeat(300));
        assertEquals(HelloCodec.VERSION_OFFSET + 2 + HelloCodec.MAX_VERSION_BYTES, length);
        assertEquals(ErrorCode.OK, HelloCodec.validate(buffer, 0, length));
        assertEquals("w".repeat(HelloCodec.MAX_VERSION_BYTES), HelloCodec.softwareVersion(buffer, 0));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // ack

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void ackRoundTripsWithNoEntries(final BufferKind kind)
    {
        final UnsafeBuffer buffer = encode(kind, AckCodec.lengthFor(0), (b) ->
        {
            AckCodec.putCount(b, OFFSET, 0);
            return AckCodec.lengthFor(0);
        });
        assertEquals(4, AckCodec.lengthFor(0));
        assertEquals(ErrorCode.OK, AckCodec.validate(buffer, OFFSET, 4));
        assertEquals(0, AckCodec.count(buffer, OFFSET));
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void ackRoundTripsWithManyEntries(final BufferKind kind)
    {
        final int n = 1000;
        final Random random = new Random(7);
        final int[] chunks = new int[n];
        final int[] blocks = new int[n];
        final int[] flags = new int[n];
        for (int i = 0; i < n; i++)
        {
            chunks[i] = i == 0 ? Integer.MAX_VALUE : random.nextInt(1 << 24);
            blocks[i] = i == 1 ? Integer.MAX_VALUE : random.nextInt(65);
            flags[i] = random.nextInt(2) * AckCodec.FLAG_CHUNK_COMPLETE;
        }
        final int length = AckCodec.lengthFor(n);
        final UnsafeBuffer buffer = encode(kind, length, (b) ->
        {
            AckCodec.putCount(b, OFFSET, n);
            for (int i = 0; i < n; i++)
            {
                AckCodec.putEntry(b, OFFSET, i, chunks[i], blocks[i], flags[i]);
            }
            return length;
        });
        assertEquals(ErrorCode.OK, AckCodec.validate(buffer, OFFSET, length));
        assertEquals(n, AckCodec.count(buffer, OFFSET));
        for (int i = 0; i < n; i++)
        {
            assertEquals(chunks[i], AckCodec.chunk(buffer, OFFSET, i));
            assertEquals(blocks[i], AckCodec.blocks(buffer, OFFSET, i));
            assertEquals(flags[i], AckCodec.flags(buffer, OFFSET, i));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // config

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void configRoundTripsInOrder(final BufferKind kind)
    {
        assertConfigRoundTrips(kind, new LinkedHashMap<>());

        final Map<String, String> some = new LinkedHashMap<>();
        some.put("ferry.chunk.size", "67108864");
        some.put("ferry.block.size", "1048576");
        some.put("ferry.checksum", "true");
        some.put("empty", "");
        some.put("", "empty key");
        some.put("cl\u00e9 \u2603", "valeur\nsur deux lignes \ud83d\ude00");
        assertConfigRoundTrips(kind, some);

        final Map<String, String> full = new LinkedHashMap<>();
        for (int i = 0; i < ConfigCodec.MAX_PAIRS; i++)
        {
            final String prefix = String.format("%02d", i);
            full.put(prefix + "k".repeat(ConfigCodec.MAX_KEY_BYTES - 2), "v".repeat(ConfigCodec.MAX_VALUE_BYTES));
        }
        assertConfigRoundTrips(kind, full);
    }

    private static void assertConfigRoundTrips(final BufferKind kind, final Map<String, String> config)
    {
        int length = 4;
        for (final Map.Entry<String, String> e : config.entrySet())
        {
            length += Wire.stringSize(Wire.utf8(e.getKey())) + Wire.stringSize(Wire.utf8(e.getValue()));
        }
        final int expected = length;
        final UnsafeBuffer buffer = encode(kind, expected, (b) -> ConfigCodec.encode(b, OFFSET, config));
        assertEquals(ErrorCode.OK, ConfigCodec.validate(buffer, OFFSET, expected));
        final Map<String, String> decoded = ConfigCodec.decode(buffer, OFFSET);
        assertEquals(config, decoded);
        assertEquals(new ArrayList<>(config.keySet()), new ArrayList<>(decoded.keySet()), "order of pairs");
    }

    @Test
    void configWithTooManyPairsIsRefusedByTheEncoder()
    {
        final Map<String, String> tooMany = new LinkedHashMap<>();
        for (int i = 0; i <= ConfigCodec.MAX_PAIRS; i++)
        {
            tooMany.put("k" + i, "v");
        }
        final FerryException e = assertThrows(FerryException.class,
            () -> ConfigCodec.encode(new UnsafeBuffer(new byte[4096]), 0, tooMany));
        assertEquals(ErrorCode.INTERNAL, e.code());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // error

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void errorRoundTripsForEveryCode(final BufferKind kind)
    {
        for (int code = ErrorCode.OK; code <= ErrorCode.CANCELLED; code++)
        {
            final String message = ErrorCode.name(code) + ": donor speaks protocol 1..2, client needs >= 3 \u2717";
            assertErrorRoundTrips(kind, code, message, message);
        }
        assertErrorRoundTrips(kind, -1, "", "");
        assertErrorRoundTrips(kind, Integer.MAX_VALUE, null, "");
        assertErrorRoundTrips(kind, ErrorCode.IO_ERROR, "x".repeat(ErrorCodec.MAX_MESSAGE_BYTES),
            "x".repeat(ErrorCodec.MAX_MESSAGE_BYTES));
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void overlongErrorMessageIsCutOnACharacterBoundary(final BufferKind kind)
    {
        final String[] units = { "\u00e9", "\u20ac", "\ud83d\ude00", "a\u20ac", "\u00e9\ud83d\ude00x" };
        for (final String unit : units)
        {
            for (int prefix = 0; prefix < 4; prefix++)
            {
                final String message = "p".repeat(prefix) + unit.repeat(2000 / unit.length());
                assertTrue(Wire.utf8(message).length > ErrorCodec.MAX_MESSAGE_BYTES);
                final UnsafeBuffer buffer = kind.allocate(OFFSET + 2 * ErrorCodec.MAX_MESSAGE_BYTES + TAIL);
                final int length = ErrorCodec.encode(buffer, OFFSET, ErrorCode.PATH_REFUSED, message);
                assertTrue(length <= ErrorCodec.MESSAGE_OFFSET + 2 + ErrorCodec.MAX_MESSAGE_BYTES, "length " + length);
                assertEquals(BufferKind.SENTINEL, buffer.getByte(OFFSET + length), "wrote past its length");
                assertEquals(ErrorCode.OK, ErrorCodec.validate(buffer, OFFSET, length));
                assertEquals(ErrorCode.PATH_REFUSED, ErrorCodec.code(buffer, OFFSET));

                final byte[] raw = new byte[length - ErrorCodec.MESSAGE_OFFSET - 2];
                buffer.getBytes(OFFSET + ErrorCodec.MESSAGE_OFFSET + 2, raw);
                final String decoded = strictUtf8(raw);
                assertEquals(decoded, ErrorCodec.message(buffer, OFFSET));
                assertTrue(message.startsWith(decoded), "the cut message must be a prefix of the original");
                // the cut is as late as possible: the next code point would not have fitted
                final int next = message.codePointAt(decoded.length());
                final int nextBytes = Wire.utf8(new String(Character.toChars(next))).length;
                assertTrue(raw.length + nextBytes > ErrorCodec.MAX_MESSAGE_BYTES,
                    "cut too early at " + raw.length + " for unit " + unit + " prefix " + prefix);
            }
        }
    }

    private static void assertErrorRoundTrips(
        final BufferKind kind, final int code, final String message, final String expected)
    {
        final int length = ErrorCodec.MESSAGE_OFFSET + Wire.stringSize(Wire.utf8(expected));
        final UnsafeBuffer buffer = encode(kind, length, (b) -> ErrorCodec.encode(b, OFFSET, code, message));
        assertEquals(ErrorCode.OK, ErrorCodec.validate(buffer, OFFSET, length));
        assertEquals(code, ErrorCodec.code(buffer, OFFSET));
        assertEquals(expected, ErrorCodec.message(buffer, OFFSET));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // complete and auth

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void completeRoundTrips(final BufferKind kind)
    {
        for (int stage = Stage.NONE; stage <= Stage.DONE; stage++)
        {
            final int s = stage;
            final UnsafeBuffer buffer = encode(kind, CompleteCodec.LENGTH, (b) ->
                CompleteCodec.encode(b, OFFSET, s, s * 3, Long.MAX_VALUE - s));
            assertEquals(ErrorCode.OK, CompleteCodec.validate(buffer, OFFSET, CompleteCodec.LENGTH));
            assertEquals(s, CompleteCodec.stage(buffer, OFFSET));
            assertEquals(s * 3, CompleteCodec.task(buffer, OFFSET));
            assertEquals(Long.MAX_VALUE - s, CompleteCodec.bytes(buffer, OFFSET));
        }
    }

    @ParameterizedTest
    @EnumSource(BufferKind.class)
    void authRoundTrips(final BufferKind kind)
    {
        final Random random = new Random(99);
        final byte[] nonce = new byte[AuthCodec.FIELD_LENGTH];
        final byte[] proof = new byte[AuthCodec.FIELD_LENGTH];
        random.nextBytes(nonce);
        random.nextBytes(proof);

        UnsafeBuffer buffer = encode(kind, AuthCodec.LENGTH, (b) -> AuthCodec.encode(b, OFFSET, nonce, proof));
        assertEquals(ErrorCode.OK, AuthCodec.validate(buffer, OFFSET, AuthCodec.LENGTH));
        assertArrayEquals(nonce, AuthCodec.nonce(buffer, OFFSET));
        assertArrayEquals(proof, AuthCodec.proof(buffer, OFFSET));

        // a challenge has no proof: zeros
        buffer = encode(kind, AuthCodec.LENGTH, (b) -> AuthCodec.encode(b, OFFSET, nonce, null));
        assertEquals(ErrorCode.OK, AuthCodec.validate(buffer, OFFSET, AuthCodec.LENGTH));
        assertArrayEquals(nonce, AuthCodec.nonce(buffer, OFFSET));
        assertArrayEquals(new byte[AuthCodec.FIELD_LENGTH], AuthCodec.proof(buffer, OFFSET));

        // short inputs are zero-padded, long ones cut to 32 bytes
        final byte[] shortNonce = { 1, 2, 3 };
        final byte[] longProof = new byte[48];
        random.nextBytes(longProof);
        buffer = encode(kind, AuthCodec.LENGTH, (b) -> AuthCodec.encode(b, OFFSET, shortNonce, longProof));
        final byte[] paddedNonce = new byte[AuthCodec.FIELD_LENGTH];
        System.arraycopy(shortNonce, 0, paddedNonce, 0, 3);
        assertArrayEquals(paddedNonce, AuthCodec.nonce(buffer, OFFSET));
        final byte[] cutProof = new byte[AuthCodec.FIELD_LENGTH];
        System.arraycopy(longProof, 0, cutProof, 0, AuthCodec.FIELD_LENGTH);
        assertArrayEquals(cutProof, AuthCodec.proof(buffer, OFFSET));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // helpers

    /**
     * Encode at {@link #OFFSET} into a buffer of exactly {@code OFFSET + length + TAIL} bytes and check that the codec
     * reported {@code length} and left every byte outside its body alone.
     */
    static UnsafeBuffer encode(final BufferKind kind, final int length, final ToIntFunction<UnsafeBuffer> encoder)
    {
        final UnsafeBuffer buffer = kind.allocate(OFFSET + length + TAIL);
        final int written = encoder.applyAsInt(buffer);
        assertEquals(length, written, "encoded length");
        for (int i = 0; i < OFFSET; i++)
        {
            assertEquals(BufferKind.SENTINEL, buffer.getByte(i), "byte before the body changed at " + i);
        }
        for (int i = OFFSET + length; i < buffer.capacity(); i++)
        {
            assertEquals(BufferKind.SENTINEL, buffer.getByte(i), "byte after the body changed at " + i);
        }
        return buffer;
    }

    static String strictUtf8(final byte[] bytes)
    {
        try
        {
            return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes))
                .toString();
        }
        catch (final CharacterCodingException ex)
        {
            fail("not valid UTF-8: " + ex);
            return null;
        }
    }
}
