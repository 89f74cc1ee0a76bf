package dev.ferry.core.protocol;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

/**
 * Builds whole frames (header and body) as byte arrays, by hand or at random, always through the production
 * encoders. Holds a scratch buffer: one instance per thread.
 */
final class TestFrames
{
    /** Every type this build knows, in a fixed order. */
    static final int[] KNOWN_TYPES = {
        FrameType.COM_INIT, FrameType.COM_ATTACH, FrameType.COM_REINIT, FrameType.COM_EXECUTE, FrameType.COM_ACK,
        FrameType.COM_EXIT, FrameType.COM_HAVE, FrameType.HELLO, FrameType.AUTH_CHALLENGE, FrameType.AUTH_RESPONSE, FrameType.AUTH_OK,
        FrameType.COM_CLONE, FrameType.PING, FrameType.COM_RES_LOCS, FrameType.COM_RES_DATA_DESC,
        FrameType.COM_RES_DATA, FrameType.COM_RES_CONFIG, FrameType.COM_RES_COMPLETE, FrameType.COM_RES_ERROR,
        FrameType.COM_RES_QUEUED };

    /** Writes a body at {@code offset} and returns its length. */
    @FunctionalInterface
    interface BodyWriter
    {
        int write(MutableDirectBuffer buffer, int offset);
    }

    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[256 * 1024]);

    /**
     * @return a frame of {@code type} whose body {@code writer} produced, its header length set to the whole frame.
     */
    byte[] frame(final int type, final BodyWriter writer)
    {
        final int body = writer.write(scratch, FrameHeader.HEADER_LENGTH);
        FrameHeader.write(scratch, 0, FrameHeader.HEADER_LENGTH + body, type);
        return Arrays.copyOf(scratch.byteArray(), FrameHeader.HEADER_LENGTH + body);
    }

    /**
     * @return a valid frame of {@code type} with random contents.
     */
    byte[] randomValid(final int type, final Random r)
    {
        switch (type)
        {
            case FrameType.COM_INIT:
            {
                final int min = 1 + r.nextInt(5);
                final Locator l = Locator.version(r.nextInt(0x10000), min, min + r.nextInt(5));
                return frame(type, (b, o) -> LocatorCodec.encode(b, o, l));
            }
            case FrameType.COM_ATTACH:
            case FrameType.COM_REINIT:
            case FrameType.COM_RES_LOCS:
            {
                Locator l = Locator.real(r.nextInt(0x10000), 1 + r.nextInt(0xFFFF), r.nextLong(),
                    r.nextInt(LocatorCodec.MAX_TASKS), r.nextInt(Stage.DONE + 1));
                if (type == FrameType.COM_REINIT || r.nextBoolean())
                {
                    l = l.restart(randomState(r));
                }
                final Locator locator = l;
                return frame(type, (b, o) -> LocatorCodec.encode(b, o, locator));
            }
            case FrameType.COM_EXECUTE:
            case FrameType.COM_CLONE:
            case FrameType.PING:
                return frame(type, (b, o) -> 0);
            case FrameType.COM_ACK:
            {
                final int n = r.nextInt(4) == 0 ? 0 : r.nextInt(40);
                final int[] values = new int[3 * n];
                for (int i = 0; i < n; i++)
                {
                    values[3 * i] = r.nextInt(1 << 20);
                    values[3 * i + 1] = r.nextInt(65);
                    values[3 * i + 2] = r.nextInt(2);
                }
                return frame(type, (b, o) ->
                {
                    AckCodec.putCount(b, o, n);
                    for (int i = 0; i < n; i++)
                    {
                        AckCodec.putEntry(b, o, i, values[3 * i], values[3 * i + 1], values[3 * i + 2]);
                    }
                    return AckCodec.lengthFor(n);
                });
            }
            case FrameType.COM_HAVE:
            {
                final int n = r.nextInt(4) == 0 ? 0 : r.nextInt(40);
                final int file = r.nextInt(1 << 20);
                final int first = r.nextInt(1 << 16);
                final long seed = r.nextLong();
                return frame(type, (b, o) ->
                {
                    HaveCodec.encodeHeader(b, o, file, first, n);
                    for (int i = 0; i < n; i++)
                    {
                        HaveCodec.putHash(b, o, i, seed * i, seed ^ i);
                    }
                    return HaveCodec.lengthFor(n);
                });
            }
            case FrameType.COM_EXIT:
            case FrameType.COM_RES_ERROR:
            {
                final int code = r.nextInt(ErrorCode.TARGET_IN_USE + 1);
                final String message = randomString(r, r.nextInt(8) == 0 ? 700 : 40, Integer.MAX_VALUE);
                return frame(type, (b, o) -> ErrorCodec.encode(b, o, code, message));
            }
            case FrameType.COM_RES_DATA_DESC:
                return randomDescriptor(r);
            case FrameType.COM_RES_DATA:
            {
                final byte[] data = new byte[r.nextInt(200)];
                r.nextBytes(data);
                return frame(type, (b, o) ->
                {
                    b.putBytes(o, data);
                    return data.length;
                });
            }
            case FrameType.COM_RES_CONFIG:
            {
                final Map<String, String> config = new LinkedHashMap<>();
                final int n = r.nextInt(8);
                for (int i = 0; i < n; i++)
                {
                    config.put(randomString(r, 20, ConfigCodec.MAX_KEY_BYTES),
                        randomString(r, r.nextInt(10) == 0 ? 600 : 20, ConfigCodec.MAX_VALUE_BYTES));
                }
                return frame(type, (b, o) -> ConfigCodec.encode(b, o, config));
            }
            case FrameType.COM_RES_COMPLETE:
            {
                final int stage = r.nextInt(Stage.DONE + 1);
                final int task = r.nextInt(LocatorCodec.MAX_TASKS);
                final long bytes = r.nextLong() & Long.MAX_VALUE;
                return frame(type, (b, o) -> CompleteCodec.encode(b, o, stage, task, bytes));
            }
            case FrameType.COM_RES_QUEUED:
            {
                final int waiting = 1 + r.nextInt(64);
                final int position = 1 + r.nextInt(waiting);
                final int running = r.nextInt(64);
                return frame(type, (b, o) -> QueuedCodec.encode(b, o, position, waiting, running));
            }
            case FrameType.HELLO:
            {
                final int min = 1 + r.nextInt(3);
                final int max = min + r.nextInt(3);
                final int role = r.nextBoolean() ? HelloCodec.ROLE_CLIENT : HelloCodec.ROLE_DONOR;
                final long features = r.nextLong();
                final String version = randomString(r, 30, HelloCodec.MAX_VERSION_BYTES);
                return frame(type, (b, o) -> HelloCodec.encode(b, o, min, max, role, features, version));
            }
            case FrameType.AUTH_CHALLENGE:
            case FrameType.AUTH_RESPONSE:
            case FrameType.AUTH_OK:
            {
                final byte[] nonce = new byte[AuthCodec.FIELD_LENGTH];
                final byte[] proof = new byte[AuthCodec.FIELD_LENGTH];
                r.nextBytes(nonce);
                r.nextBytes(proof);
                return frame(type, (b, o) -> AuthCodec.encode(b, o, nonce, type == FrameType.AUTH_CHALLENGE ? null : proof));
            }
            default:
                throw new IllegalArgumentException("type " + type);
        }
    }

    private byte[] randomDescriptor(final Random r)
    {
        switch (r.nextInt(3))
        {
            case 0:
            {
                final int stage = r.nextInt(Stage.DONE + 1);
                final long files = r.nextLong() & Long.MAX_VALUE;
                final long chunks = r.nextInt(1 << 20);
                final long bytes = r.nextLong() & Long.MAX_VALUE;
                final int blockSize = 1 << (12 + r.nextInt(15));
                return frame(FrameType.COM_RES_DATA_DESC,
                    (b, o) -> DescriptorFlyweight.encodeState(b, o, stage, files, chunks, bytes, blockSize));
            }
            case 1:
            {
                final int fileType = 1 + r.nextInt(3);
                final byte[] path = Wire.utf8(randomString(r, r.nextInt(50) == 0 ? 2000 : 30, Wire.MAX_STRING_BYTES));
                final byte[] target = fileType == DescriptorFlyweight.FILE_SYMLINK ?
                    Wire.utf8(randomString(r, 30, Wire.MAX_STRING_BYTES)) : new byte[0];
                final int index = r.nextInt(Integer.MAX_VALUE);
                final long size = r.nextLong() & Long.MAX_VALUE;
                final long mtime = r.nextLong();
                final int mode = r.nextInt(010000);
                final int first = r.nextInt(Integer.MAX_VALUE);
                final int span = r.nextInt(100);
                return frame(FrameType.COM_RES_DATA_DESC, (b, o) -> DescriptorFlyweight.encodeFile(
                    b, o, index, size, mtime, mode, fileType, first, span, path, target));
            }
            default:
            {
                final int file = r.nextInt(Integer.MAX_VALUE);
                final int chunk = r.nextInt(Integer.MAX_VALUE);
                final int block = r.nextInt(64);
                final long position = r.nextLong() & Long.MAX_VALUE;
                final int length = r.nextInt(1 << 20);
                final int crc = r.nextInt();
                final int flags = r.nextInt(4);
                return frame(FrameType.COM_RES_DATA_DESC, (b, o) -> DescriptorFlyweight.encodeData(
                    b, o, file, chunk, block, position, length, crc, flags));
            }
        }
    }

    static AppliedState randomState(final Random r)
    {
        final int chunks = r.nextInt(8) == 0 ? 0 : r.nextInt(100);
        final AppliedState state = new AppliedState(chunks);
        for (int c = 0; c < chunks; c++)
        {
            final int what = r.nextInt(3);
            if (what == 1)
            {
                state.onApplied(c, 1 + r.nextInt(64), false);
            }
            else if (what == 2)
            {
                state.onApplied(c, 0, true);
            }
        }
        return state;
    }

    /**
     * @return a string of up to {@code maxChars} code points (ASCII, Latin-1, other BMP, supplementary, controls),
     * shortened to at most {@code maxBytes} UTF-8 bytes on a character boundary.
     */
    static String randomString(final Random r, final int maxChars, final int maxBytes)
    {
        final int n = r.nextInt(maxChars + 1);
        final StringBuilder sb = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < n; i++)
        {
            final int cp;
            switch (r.nextInt(6))
            {
                case 0: cp = 0xA0 + r.nextInt(0x700 - 0xA0); break;
                case 1: cp = 0x800 + r.nextInt(0xD800 - 0x800); break;
                case 2: cp = 0x10000 + r.nextInt(0x10FFFF - 0x10000); break;
                case 3: cp = r.nextInt(0x20); break;
                default: cp = 0x20 + r.nextInt(0x5F); break;
            }
            final int size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + size > maxBytes)
            {
                break;
            }
            bytes += size;
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }
}
