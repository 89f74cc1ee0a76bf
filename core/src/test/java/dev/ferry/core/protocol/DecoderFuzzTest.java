package dev.ferry.core.protocol;

import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Feeds random bytes and damaged valid frames to {@link FrameValidator} and, when it accepts one, to the decoders and
 * accessors a session would call next. Nothing may throw, every verdict must be a code the validator documents, and
 * the whole run must finish within its timeout.
 * <p>
 * Each input is checked twice: at offset 0 of an exactly sized heap buffer and at a random offset of an exactly sized
 * window on a direct buffer, so a read one byte past the frame hits Agrona's bounds check. To replay a failure, run
 * with {@code -Dferry.fuzz.seed=<seed from the message>}.
 */
class DecoderFuzzTest
{
    private static final int CASES = Integer.getInteger("ferry.fuzz.cases", 100_000);
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final int SMALL_MAX = 4096;

    /** Codes {@link FrameValidator#validate} may return. */
    private static final int[] VERDICTS = {
        ErrorCode.OK, ErrorCode.MALFORMED_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.UNKNOWN_COMMAND,
        ErrorCode.BAD_LOCATOR, ErrorCode.NOT_FERRY };

    private static final long[] INTERESTING = {
        0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 23, 24, 25, 39, 40, 41, 43, 44, 63, 64, 65, 127, 128, 129, 255, 256, 1023, 1024,
        1025, 4095, 4096, 4097, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 1 << 24, (1 << 24) + 1, 0x1555_5556, 0x2AAA_AAAB,
        Integer.MAX_VALUE, Integer.MIN_VALUE, -1, -2, -8, Long.MAX_VALUE, Long.MIN_VALUE, HelloCodec.MAGIC,
        FrameHeader.DEFAULT_MAX_FRAME_LENGTH, FrameHeader.DEFAULT_MAX_FRAME_LENGTH + 1L };

    private static final String[] MUTATIONS = {
        "random bytes", "random body behind a good header", "valid", "bit flips", "truncation", "extension",
        "field overwrite", "length overwrite", "type swap", "stacked" };

    @Test
    void fixedSeed()
    {
        fuzz(Long.getLong("ferry.fuzz.seed", 0x5EED_F3_77L));
    }

    @Test
    void randomSeed()
    {
        fuzz(Long.getLong("ferry.fuzz.seed", new SecureRandom().nextLong()));
    }

    private static void fuzz(final long seed)
    {
        final Fuzzer fuzzer = assertTimeoutPreemptively(TIMEOUT, () ->
        {
            final Fuzzer f = new Fuzzer(seed);
            f.run(CASES);
            return f;
        }, () -> "fuzz run did not finish in " + TIMEOUT + ", seed " + seed);

        final String context = "seed " + seed;
        assertEquals(CASES, fuzzer.cases, context);
        for (int m = 0; m < MUTATIONS.length; m++)
        {
            assertTrue(fuzzer.casesByMutation[m] > CASES / 20, context + ": too few " + MUTATIONS[m]);
        }
        for (final int type : TestFrames.KNOWN_TYPES)
        {
            assertTrue(fuzzer.acceptedByType[type] > 0, context + ": nothing accepted of " + FrameType.name(type));
        }
        for (final int verdict : VERDICTS)
        {
            assertTrue(fuzzer.verdicts[verdict] > 0, context + ": never saw " + ErrorCode.name(verdict));
        }
        assertTrue(fuzzer.verdicts[ErrorCode.OK] > CASES / 10, context + ": too few accepted frames");
        assertTrue(fuzzer.decodedRestartLocators > 0, context);
        assertTrue(fuzzer.decodedDescriptors[DescriptorFlyweight.TYPE_FILE] > 0, context);
        assertTrue(fuzzer.decodedDescriptors[DescriptorFlyweight.TYPE_STATE] > 0, context);
        assertTrue(fuzzer.decodedDescriptors[DescriptorFlyweight.TYPE_DATA] > 0, context);
    }

    /** One run: owns its random source, buffers and counters. */
    private static final class Fuzzer
    {
        final long seed;
        final Random random;
        final TestFrames frames = new TestFrames();
        final FrameValidator validator = new FrameValidator(FrameHeader.DEFAULT_MAX_FRAME_LENGTH);
        final FrameValidator smallValidator = new FrameValidator(SMALL_MAX);
        final DescriptorFlyweight descriptor = new DescriptorFlyweight();
        final ByteBuffer directMemory = ByteBuffer.allocateDirect(512 * 1024);
        final UnsafeBuffer direct = new UnsafeBuffer(0, 0);
        final UnsafeBuffer scratch = new UnsafeBuffer(new byte[512 * 1024]);

        int cases;
        final int[] casesByMutation = new int[MUTATIONS.length];
        final int[] verdicts = new int[ErrorCode.TARGET_IN_USE + 1];
        final int[] acceptedByType = new int[0x10000];
        final int[] decodedDescriptors = new int[4];
        int decodedRestartLocators;

        Fuzzer(final long seed)
        {
            this.seed = seed;
            this.random = new Random(seed);
        }

        void run(final int count)
        {
            for (int i = 0; i < count; i++)
            {
                final int mutation = random.nextInt(MUTATIONS.length);
                final boolean small = random.nextInt(4) == 0;
                final int directOffset = random.nextInt(8);
                byte[] input = null;
                try
                {
                    input = generate(mutation);
                    check(input, small, directOffset);
                }
                catch (final Throwable t)
                {
                    throw new AssertionError("seed " + seed + ", case " + i + " (" + MUTATIONS[mutation] +
                        (small ? ", max frame " + SMALL_MAX : "") + ", direct offset " + directOffset + "): " + t +
                        "\ninput " + (input == null ? "<not generated>" : FrameValidatorTest.hex(input)), t);
                }
                cases++;
                casesByMutation[mutation]++;
            }
        }

        // -----------------------------------------------------------------------------------------------------------
        // inputs

        private byte[] generate(final int mutation)
        {
            switch (mutation)
            {
                case 0:
                {
                    final byte[] b = new byte[random.nextInt(120)];
                    random.nextBytes(b);
                    return b;
                }
                case 1:
                {
                    final int type = TestFrames.KNOWN_TYPES[random.nextInt(TestFrames.KNOWN_TYPES.length)];
                    final byte[] body = new byte[random.nextInt(4) == 0 ? random.nextInt(8) : random.nextInt(160)];
                    random.nextBytes(body);
                    if (body.length >= 8 && type == FrameType.HELLO && random.nextBoolean())
                    {
                        new UnsafeBuffer(body).putLong(0, HelloCodec.MAGIC, Wire.BYTE_ORDER);
                    }
                    if (body.length >= 4 && random.nextBoolean())
                    {
                        body[0] = (byte)(1 + random.nextInt(3)); // a plausible descriptor type, locator engine...
                        body[1] = 0;
                        body[2] = (byte)random.nextInt(4);
                        body[3] = (byte)random.nextInt(5);
                    }
                    return frames.frame(type, (b, o) ->
                    {
                        b.putBytes(o, body);
                        return body.length;
                    });
                }
                case 2:
                    return valid();
                case 3:
                    return bitFlips(valid());
                case 4:
                    return truncate(valid());
                case 5:
                    return extend(valid());
                case 6:
                    return overwrite(valid());
                case 7:
                    return overwriteLength(valid());
                case 8:
                    return swapType(valid());
                default:
                {
                    byte[] b = valid();
                    final int n = 2 + random.nextInt(3);
                    for (int k = 0; k < n; k++)
                    {
                        switch (random.nextInt(6))
                        {
                            case 0: b = bitFlips(b); break;
                            case 1: b = truncate(b); break;
                            case 2: b = extend(b); break;
                            case 3: b = overwriteLength(b); break;
                            case 4: b = swapType(b); break;
                            default: b = overwrite(b); break;
                        }
                    }
                    return b;
                }
            }
        }

        private byte[] valid()
        {
            return frames.randomValid(TestFrames.KNOWN_TYPES[random.nextInt(TestFrames.KNOWN_TYPES.length)], random);
        }

        private byte[] bitFlips(final byte[] frame)
        {
            final byte[] b = frame.clone();
            final int n = 1 + random.nextInt(8);
            for (int k = 0; k < n && b.length > 0; k++)
            {
                // favour the header and the fixed fields, where one bit changes the meaning most
                final int index = random.nextBoolean() ? random.nextInt(Math.min(b.length, 48)) : random.nextInt(b.length);
                b[index] ^= (byte)(1 << random.nextInt(8));
            }
            return b;
        }

        private byte[] truncate(final byte[] frame)
        {
            if (frame.length == 0)
            {
                return frame;
            }
            final byte[] b = Arrays.copyOf(frame, random.nextInt(frame.length));
            if (b.length >= FrameHeader.HEADER_LENGTH && random.nextBoolean())
            {
                setLength(b, b.length);
            }
            return b;
        }

        private byte[] extend(final byte[] frame)
        {
            final int extra = 1 + random.nextInt(random.nextBoolean() ? 8 : 64);
            final byte[] b = Arrays.copyOf(frame, frame.length + extra);
            if (random.nextBoolean())
            {
                for (int i = frame.length; i < b.length; i++)
                {
                    b[i] = (byte)random.nextInt();
                }
            }
            if (b.length >= FrameHeader.HEADER_LENGTH && random.nextInt(3) != 0)
            {
                setLength(b, b.length);
            }
            return b;
        }

        private byte[] overwrite(final byte[] frame)
        {
            final byte[] b = frame.clone();
            final int n = 1 + random.nextInt(3);
            for (int k = 0; k < n; k++)
            {
                final int width = 1 << random.nextInt(4);
                if (b.length < width)
                {
                    continue;
                }
                final int limit = b.length - width + 1;
                final int index = random.nextBoolean() ? random.nextInt(Math.min(limit, 56)) : random.nextInt(limit);
                final long value = random.nextInt(4) == 0 ? random.nextLong() :
                    random.nextInt(4) == 0 ? b.length - FrameHeader.HEADER_LENGTH + random.nextInt(17) - 8 :
                    INTERESTING[random.nextInt(INTERESTING.length)];
                final UnsafeBuffer ub = new UnsafeBuffer(b);
                switch (width)
                {
                    case 1: ub.putByte(index, (byte)value); break;
                    case 2: ub.putShort(index, (short)value, Wire.BYTE_ORDER); break;
                    case 4: ub.putInt(index, (int)value, Wire.BYTE_ORDER); break;
                    default: ub.putLong(index, value, Wire.BYTE_ORDER); break;
                }
            }
            return b;
        }

        private byte[] overwriteLength(final byte[] frame)
        {
            if (frame.length < FrameHeader.HEADER_LENGTH)
            {
                return frame;
            }
            final byte[] b = frame.clone();
            final long value = random.nextBoolean() ? INTERESTING[random.nextInt(INTERESTING.length)] :
                frame.length + random.nextInt(33) - 16;
            setLength(b, (int)value);
            return b;
        }

        private byte[] swapType(final byte[] frame)
        {
            if (frame.length < FrameHeader.HEADER_LENGTH)
            {
                return frame;
            }
            final byte[] b = frame.clone();
            final int type = random.nextInt(8) == 0 ? random.nextInt(0x10000) :
                TestFrames.KNOWN_TYPES[random.nextInt(TestFrames.KNOWN_TYPES.length)];
            new UnsafeBuffer(b).putShort(FrameHeader.TYPE_OFFSET, (short)type, Wire.BYTE_ORDER);
            return b;
        }

        private static void setLength(final byte[] b, final int length)
        {
            new UnsafeBuffer(b).putInt(FrameHeader.LENGTH_OFFSET, length, Wire.BYTE_ORDER);
        }

        // -----------------------------------------------------------------------------------------------------------
        // checks

        private void check(final byte[] input, final boolean small, final int directOffset)
        {
            final FrameValidator v = small ? smallValidator : validator;

            final UnsafeBuffer heap = new UnsafeBuffer(input);
            final int heapVerdict = v.validate(heap, 0, input.length);
            assertKnownVerdict(heapVerdict);
            assertEquals(heapVerdict, v.validate(heap, 0, input.length), "validate is not repeatable");

            direct.wrap(directMemory, 0, directOffset + input.length);
            direct.putBytes(directOffset, input);
            final int directVerdict = v.validate(direct, directOffset, input.length);
            assertEquals(heapVerdict, directVerdict, "heap and direct buffers disagree");

            verdicts[heapVerdict]++;
            if (heapVerdict == ErrorCode.OK)
            {
                final int type = FrameHeader.type(heap, 0);
                acceptedByType[type]++;
                final int bodyLength = FrameHeader.frameLength(heap, 0) - FrameHeader.HEADER_LENGTH;
                assertTrue(bodyLength >= 0 && bodyLength <= input.length - FrameHeader.HEADER_LENGTH);
                decode(type, heap, FrameHeader.HEADER_LENGTH, bodyLength);
                decode(type, direct, directOffset + FrameHeader.HEADER_LENGTH, bodyLength);
            }
        }

        private static void assertKnownVerdict(final int verdict)
        {
            for (final int known : VERDICTS)
            {
                if (verdict == known)
                {
                    assertFalse(ErrorCode.name(verdict).startsWith("ERROR_"));
                    return;
                }
            }
            throw new AssertionError("validate returned " + verdict + " (" + ErrorCode.name(verdict) + ")");
        }

        /**
         * What a session does with an accepted frame: every accessor of its type.
         */
        private void decode(final int type, final DirectBuffer b, final int body, final int bodyLength)
        {
            switch (type)
            {
                case FrameType.COM_INIT:
                case FrameType.COM_ATTACH:
                case FrameType.COM_REINIT:
                case FrameType.COM_RES_LOCS:
                    decodeLocator(b, body, bodyLength);
                    break;

                case FrameType.COM_ACK:
                {
                    final int count = AckCodec.count(b, body);
                    assertEquals(AckCodec.lengthFor(count), bodyLength);
                    for (int i = 0; i < count; i++)
                    {
                        assertTrue(AckCodec.chunk(b, body, i) >= 0);
                        assertTrue(AckCodec.blocks(b, body, i) >= 0);
                        assertEquals(0, AckCodec.flags(b, body, i) & ~AckCodec.FLAG_CHUNK_COMPLETE);
                    }
                    break;
                }

                case FrameType.COM_HAVE:
                {
                    final int count = HaveCodec.count(b, body);
                    assertEquals(HaveCodec.lengthFor(count), bodyLength);
                    assertTrue(HaveCodec.file(b, body) >= 0 && HaveCodec.firstPiece(b, body) >= 0);
                    if (count > 0)
                    {
                        HaveCodec.high(b, body, count - 1);
                    }
                    break;
                }

                case FrameType.COM_EXIT:
                case FrameType.COM_RES_ERROR:
                    ErrorCodec.code(b, body);
                    assertNotNull(ErrorCodec.message(b, body));
                    break;

                case FrameType.COM_RES_DATA_DESC:
                    decodeDescriptor(b, body, bodyLength);
                    break;

                case FrameType.COM_RES_CONFIG:
                {
                    final Map<String, String> config = ConfigCodec.decode(b, body);
                    assertTrue(config.size() <= b.getInt(body, Wire.BYTE_ORDER));
                    assertTrue(config.size() <= ConfigCodec.MAX_PAIRS);
                    break;
                }

                case FrameType.COM_RES_COMPLETE:
                    assertTrue(Stage.isValid(CompleteCodec.stage(b, body)));
                    assertTrue(CompleteCodec.task(b, body) >= 0);
                    assertTrue(CompleteCodec.bytes(b, body) >= 0);
                    break;

                case FrameType.COM_RES_QUEUED:
                    assertTrue(QueuedCodec.position(b, body) >= 1);
                    assertTrue(QueuedCodec.position(b, body) <= QueuedCodec.waiting(b, body));
                    assertTrue(QueuedCodec.running(b, body) >= 0);
                    break;

                case FrameType.HELLO:
                    assertEquals(HelloCodec.MAGIC, b.getLong(body, Wire.BYTE_ORDER));
                    assertTrue(HelloCodec.protocolMin(b, body) >= 1);
                    assertTrue(HelloCodec.protocolMax(b, body) >= HelloCodec.protocolMin(b, body));
                    final int role = HelloCodec.role(b, body);
                    assertTrue(role == HelloCodec.ROLE_CLIENT || role == HelloCodec.ROLE_DONOR);
                    HelloCodec.features(b, body);
                    assertNotNull(HelloCodec.softwareVersion(b, body));
                    break;

                case FrameType.AUTH_CHALLENGE:
                case FrameType.AUTH_RESPONSE:
                case FrameType.AUTH_OK:
                    assertEquals(AuthCodec.FIELD_LENGTH, AuthCodec.nonce(b, body).length);
                    assertEquals(AuthCodec.FIELD_LENGTH, AuthCodec.proof(b, body).length);
                    break;

                case FrameType.COM_RES_DATA:
                    if (bodyLength > 0)
                    {
                        b.getByte(body + bodyLength - 1);
                    }
                    break;

                case FrameType.COM_EXECUTE:
                    assertTrue(bodyLength == 0 || ((bodyLength == ExecuteFlags.LENGTH ||
                        bodyLength == ExecuteFlags.LENGTH_HASH_AHEAD) &&
                        ExecuteFlags.isValid(b.getInt(body, Wire.BYTE_ORDER))), "execute body " + bodyLength);
                    if (bodyLength == ExecuteFlags.LENGTH_HASH_AHEAD)
                    {
                        assertTrue((b.getInt(body, Wire.BYTE_ORDER) & ExecuteFlags.HASH_AHEAD) != 0);
                        b.getLong(body + ExecuteFlags.NEWER_THAN_OFFSET, Wire.BYTE_ORDER);
                    }
                    break;

                case FrameType.COM_CLONE:
                case FrameType.PING:
                    assertEquals(0, bodyLength);
                    break;

                default:
                    throw new AssertionError("accepted unknown type " + type);
            }
        }

        private void decodeLocator(final DirectBuffer b, final int body, final int bodyLength)
        {
            final Locator locator = LocatorCodec.decode(b, body);
            assertTrue(locator.kind() >= Locator.KIND_VERSION && locator.kind() <= Locator.KIND_RESTART);
            assertTrue(Stage.isValid(locator.stage()));
            assertTrue(locator.taskIndex() >= 0 && locator.taskIndex() < LocatorCodec.MAX_TASKS);
            assertTrue(locator.protocolMin() >= 1 && locator.protocolMax() >= locator.protocolMin());
            assertEquals(locator.kind() == Locator.KIND_RESTART, locator.applied() != null);

            // the decoded locator re-encodes to a valid body, no longer than the one received, that decodes to itself
            final int length = LocatorCodec.encodedLength(locator);
            assertTrue(length <= bodyLength, "re-encoded locator grew");
            assertEquals(length, LocatorCodec.encode(scratch, 3, locator));
            assertEquals(ErrorCode.OK, LocatorCodec.validate(scratch, 3, length));
            assertEquals(locator, LocatorCodec.decode(scratch, 3));

            // every fixed field comes back byte for byte; a locator without applied state comes back whole
            final int same = locator.applied() == null ? bodyLength : LocatorCodec.APPLIED_LENGTH_OFFSET;
            for (int i = 0; i < same; i++)
            {
                assertEquals(b.getByte(body + i), scratch.getByte(3 + i), "locator byte " + i + " re-encoded differently");
            }
            if (locator.applied() != null)
            {
                decodedRestartLocators++;
                final AppliedState applied = locator.applied();
                assertTrue(applied.chunkCount() <= LocatorCodec.MAX_CHUNKS);
                assertTrue(applied.completeCount() + applied.partialCount() <= applied.chunkCount());
                for (int chunk = 0; chunk < applied.chunkCount(); chunk++)
                {
                    assertTrue(applied.appliedBlocks(chunk) >= 0, "chunk " + chunk);
                }
                // the re-encoding is canonical: encoding what it decodes to gives the same bytes again
                final int again = LocatorCodec.encode(scratch, 3 + length, LocatorCodec.decode(scratch, 3));
                assertEquals(length, again);
                for (int i = 0; i < length; i++)
                {
                    assertEquals(scratch.getByte(3 + i), scratch.getByte(3 + length + i), "canonical byte " + i);
                }
            }
        }

        private void decodeDescriptor(final DirectBuffer b, final int body, final int bodyLength)
        {
            final DescriptorFlyweight d = descriptor.wrap(b, body, bodyLength);
            assertEquals(ErrorCode.OK, d.validate());
            decodedDescriptors[d.type()]++;
            switch (d.type())
            {
                case DescriptorFlyweight.TYPE_STATE:
                    assertTrue(Stage.isValid(d.stage()));
                    assertTrue(d.fileCount() >= 0 && d.chunkCount() >= 0 && d.estimatedBytes() >= 0);
                    assertTrue(d.blockSize() > 0);
                    break;

                case DescriptorFlyweight.TYPE_FILE:
                {
                    assertTrue(d.fileIndex() >= 0 && d.fileSize() >= 0 && d.firstChunk() >= 0 && d.chunkSpan() >= 0);
                    d.mtimeNanos();
                    assertEquals(0, d.mode() & ~07777);
                    assertTrue(d.fileType() >= DescriptorFlyweight.FILE_REGULAR &&
                        d.fileType() <= DescriptorFlyweight.FILE_TYPE_MAX);
                    assertNotNull(d.path());
                    assertNotNull(d.linkTarget());
                    final byte[] path = d.pathBytes();
                    final byte[] target = d.linkTargetBytes();
                    assertTrue(path.length <= Wire.MAX_STRING_BYTES);
                    assertEquals(bodyLength, DescriptorFlyweight.fileLength(path, target));
                    if (d.fileType() != DescriptorFlyweight.FILE_SYMLINK)
                    {
                        assertEquals(0, target.length);
                    }
                    break;
                }

                case DescriptorFlyweight.TYPE_DATA:
                    assertTrue(d.fileIndex() >= 0 && d.dataChunk() >= 0 && d.dataBlock() >= 0);
                    assertTrue(d.dataPosition() >= 0 && d.dataLength() >= 0);
                    d.dataCrc();
                    d.isLastInChunk();
                    d.hasCrc();
                    break;

                default:
                    throw new AssertionError("accepted descriptor type " + d.type());
            }
        }
    }
}
