package dev.ferry.engine.remote;

import dev.ferry.engine.recipient.CloneClient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.protocol.AckCodec;
import dev.ferry.core.protocol.AuthCodec;
import dev.ferry.core.protocol.CompleteCodec;
import dev.ferry.core.protocol.ConfigCodec;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.ExecuteFlags;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.FrameValidator;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Frames built with the real codecs, and mutations of them, for the tests that attack a live donor or a live client
 * from a raw socket ({@link LiveFuzzTest}, {@link MaliciousDonorTest}, {@link FloodTest}). Every mutation starts from
 * a valid frame: bit flips, truncation, extension, boundary values written over the length, the type or a body field,
 * splices of two frames, and plain random bytes. Stateless; the caller owns the random source.
 */
final class FuzzSupport
{
    static final int CAP = FrameHeader.DEFAULT_MAX_FRAME_LENGTH;
    /** The transport's default receive buffer: a control frame longer than this is refused as too large. */
    static final int STAGING = 1024 * 1024;

    static final int[] LENGTH_BOUNDARIES = {
        0, 1, 7, 8, 9, -1, -8, Integer.MIN_VALUE, Integer.MAX_VALUE, CAP, CAP + 1, STAGING, STAGING + 1, 0x7FFF_FFF8 };
    static final int[] TYPE_BOUNDARIES = {
        0, 1, 6, 7, 15, 16, 21, 22, 31, 32, 100, 101, 106, 107, 108, 127, 128, 0x7FFF, 0x8000, 0xFFFF };
    static final long[] FIELD_BOUNDARIES = {
        0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, Integer.MAX_VALUE, Integer.MIN_VALUE, 0xFFFF_FFFFL,
        LocatorCodec.MAX_CHUNKS, LocatorCodec.MAX_CHUNKS + 1, LocatorCodec.MAX_TASKS, 4096, 4097, 65_536, 65_537,
        Long.MAX_VALUE, Long.MIN_VALUE, 100_000_000L, 100_000_001L };

    /** Paths a hostile donor might try; every one must be refused or stay inside the target. */
    static final String[] HOSTILE_PATHS = {
        "..", "../x", "../outside/x", "a/../../x", "a/../b", "/etc/passwd", "/tmp/ferry-escape", ".", "./x", "a/./b",
        "a//b", "/", "", "x/", "x\0y", ".ferry", ".ferry/status", ".ferry/x", "link/x", "link/sub/x", "..\\x",
        "a/b/c/d/e/f", "new\nline", "\u00e9\u00e8\u2603", "x".repeat(300), "y".repeat(4096), "z".repeat(4097) };

    private FuzzSupport()
    {
    }

    /**
     * A frame and how it was made.
     */
    static final class Mutant
    {
        final byte[] bytes;
        final String op;
        final int templateType;

        Mutant(final byte[] bytes, final String op, final int templateType)
        {
            this.bytes = bytes;
            this.op = op;
            this.templateType = templateType;
        }
    }

    interface Encoder
    {
        int encode(UnsafeBuffer b);
    }

    static byte[] body(final int capacity, final Encoder e)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[capacity]);
        final int n = e.encode(b);
        final byte[] out = new byte[n];
        b.getBytes(0, out);
        return out;
    }

    static byte[] frame(final int type, final byte[] body)
    {
        final byte[] f = new byte[FrameHeader.HEADER_LENGTH + body.length];
        final UnsafeBuffer b = new UnsafeBuffer(f);
        FrameHeader.write(b, 0, f.length, type);
        System.arraycopy(body, 0, f, FrameHeader.HEADER_LENGTH, body.length);
        return f;
    }

    static byte[] empty(final int type)
    {
        return frame(type, new byte[0]);
    }

    static byte[] ping()
    {
        return empty(FrameType.PING);
    }

    static byte[] hello(final int min, final int max, final int role, final long features, final String version)
    {
        return frame(FrameType.HELLO, body(512, (b) -> HelloCodec.encode(b, 0, min, max, role, features, version)));
    }

    static byte[] clientHello()
    {
        return hello(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, HelloCodec.ROLE_CLIENT, HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART, "fuzz");
    }

    static byte[] donorHello()
    {
        return hello(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, HelloCodec.ROLE_DONOR, HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART, "fuzz donor");
    }

    static byte[] locator(final int type, final Locator l)
    {
        return frame(type, body(LocatorCodec.encodedLength(l), (b) -> LocatorCodec.encode(b, 0, l)));
    }

    static byte[] versionInit()
    {
        return locator(FrameType.COM_INIT, Locator.version(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX));
    }

    static byte[] config(final Map<String, String> c)
    {
        return frame(FrameType.COM_RES_CONFIG, body(16_384, (b) -> ConfigCodec.encode(b, 0, c)));
    }

    /**
     * The configuration a donor with 64 KiB blocks announces (the values the brief of these tests names).
     */
    static Map<String, String> donorConfig(final long restartWindowMs)
    {
        final Map<String, String> c = new LinkedHashMap<>();
        c.put("engine", "file-tree");
        c.put("format", "1");
        c.put("block_size", "65536");
        c.put("chunk_size", "1048576");
        c.put("files_per_chunk", "1"); // every non-empty file is a chunk of its own: block placement is easy to script
        c.put("checksum", "crc32c");
        c.put("restart_window_ms", String.valueOf(restartWindowMs));
        return c;
    }

    static byte[] state(final int stage, final long files, final long chunks, final long bytes, final int blockSize)
    {
        return frame(FrameType.COM_RES_DATA_DESC, body(64,
            (b) -> DescriptorFlyweight.encodeState(b, 0, stage, files, chunks, bytes, blockSize)));
    }

    /**
     * A FILE descriptor written field by field (so a path longer than the protocol allows can be sent too); for
     * paths within the limit the bytes equal {@link DescriptorFlyweight#encodeFile}'s.
     */
    static byte[] file(final int index, final long size, final long mtime, final int mode, final int type,
        final int firstChunk, final int span, final byte[] path, final byte[] target)
    {
        final int length = DescriptorFlyweight.FILE_PATH_OFFSET + 2 + path.length + 2 + target.length;
        return frame(FrameType.COM_RES_DATA_DESC, body(length, (b) ->
        {
            if (path.length <= 4096 && target.length <= 4096)
            {
                return DescriptorFlyweight.encodeFile(b, 0, index, size, mtime, mode, type, firstChunk, span, path,
                    target);
            }
            b.putInt(0, DescriptorFlyweight.TYPE_FILE, ByteOrder.LITTLE_ENDIAN);
            b.putInt(DescriptorFlyweight.FILE_INDEX_OFFSET, index, ByteOrder.LITTLE_ENDIAN);
            b.putLong(DescriptorFlyweight.FILE_SIZE_OFFSET, size, ByteOrder.LITTLE_ENDIAN);
            b.putLong(DescriptorFlyweight.FILE_MTIME_OFFSET, mtime, ByteOrder.LITTLE_ENDIAN);
            b.putInt(DescriptorFlyweight.FILE_MODE_OFFSET, mode, ByteOrder.LITTLE_ENDIAN);
            b.putInt(DescriptorFlyweight.FILE_TYPE_OFFSET, type, ByteOrder.LITTLE_ENDIAN);
            b.putInt(DescriptorFlyweight.FILE_FIRST_CHUNK_OFFSET, firstChunk, ByteOrder.LITTLE_ENDIAN);
            b.putInt(DescriptorFlyweight.FILE_CHUNK_SPAN_OFFSET, span, ByteOrder.LITTLE_ENDIAN);
            int p = DescriptorFlyweight.FILE_PATH_OFFSET;
            b.putShort(p, (short)path.length, ByteOrder.LITTLE_ENDIAN);
            b.putBytes(p + 2, path);
            p += 2 + path.length;
            b.putShort(p, (short)target.length, ByteOrder.LITTLE_ENDIAN);
            b.putBytes(p + 2, target);
            return length;
        }));
    }

    static byte[] file(final int index, final long size, final int type, final String path, final String target)
    {
        return file(index, size, 1_600_000_000_000_000_000L, type == DescriptorFlyweight.FILE_DIRECTORY ? 0755 : 0644,
            type, 0, size == 0 ? 0 : 1, utf8(path), utf8(target));
    }

    static int crc(final byte[] bytes)
    {
        final CRC32C c = new CRC32C();
        c.update(bytes);
        return (int)c.getValue();
    }

    static byte[] dataDescriptor(final int fileIndex, final int chunk, final int block, final long position,
        final int length, final int crc, final int flags)
    {
        return frame(FrameType.COM_RES_DATA_DESC, body(64, (b) -> DescriptorFlyweight.encodeData(b, 0, fileIndex, chunk,
            block, position, length, crc, flags)));
    }

    static byte[] dataFrame(final byte[] bytes)
    {
        return frame(FrameType.COM_RES_DATA, bytes);
    }

    static byte[] complete(final int stage, final int task, final long bytes)
    {
        return frame(FrameType.COM_RES_COMPLETE, body(CompleteCodec.LENGTH,
            (b) -> CompleteCodec.encode(b, 0, stage, task, bytes)));
    }

    static byte[] error(final int type, final int code, final String message)
    {
        return frame(type, body(ErrorCodec.MAX_MESSAGE_BYTES + 64, (b) -> ErrorCodec.encode(b, 0, code, message)));
    }

    static byte[] ack(final int[][] entries)
    {
        return frame(FrameType.COM_ACK, body(AckCodec.lengthFor(entries.length), (b) ->
        {
            AckCodec.putCount(b, 0, entries.length);
            for (int i = 0; i < entries.length; i++)
            {
                AckCodec.putEntry(b, 0, i, entries[i][0], entries[i][1], entries[i][2]);
            }
            return AckCodec.lengthFor(entries.length);
        }));
    }

    static byte[] auth(final int type)
    {
        return frame(type, body(AuthCodec.LENGTH, (b) -> AuthCodec.encode(b, 0, new byte[32], new byte[32])));
    }

    static byte[] utf8(final String s)
    {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] concat(final byte[]... parts)
    {
        int n = 0;
        for (final byte[] p : parts)
        {
            n += p.length;
        }
        final byte[] out = new byte[n];
        int at = 0;
        for (final byte[] p : parts)
        {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static int intLE(final byte[] b, final int at)
    {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(at);
    }

    static int typeOf(final byte[] frame)
    {
        return frame.length < 6 ? -1 : (frame[4] & 0xFF) | (frame[5] & 0xFF) << 8;
    }

    static String randomString(final SplittableRandom r, final int max)
    {
        final StringBuilder sb = new StringBuilder();
        final int n = r.nextInt(max + 1);
        for (int i = 0; i < n; i++)
        {
            sb.append((char)(r.nextBoolean() ? 'a' + r.nextInt(26) : r.nextInt(0x3000)));
        }
        return sb.toString();
    }

    static long boundaryOrRandomLong(final SplittableRandom r)
    {
        return r.nextInt(3) == 0 ? r.nextLong() : FIELD_BOUNDARIES[r.nextInt(FIELD_BOUNDARIES.length)];
    }

    static int boundaryOrRandomInt(final SplittableRandom r)
    {
        return (int)boundaryOrRandomLong(r);
    }

    /**
     * A random restart locator: an applied state of a random size with random complete and partial chunks.
     */
    static Locator restartLocator(final SplittableRandom r, final long snapshot)
    {
        final AppliedState a = new AppliedState(r.nextInt(40));
        for (int c = 0; c < a.chunkCount(); c++)
        {
            final int k = r.nextInt(3);
            if (k > 0)
            {
                a.onApplied(c, 1 + r.nextInt(8), k == 2);
            }
        }
        return Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, snapshot, 0, r.nextBoolean() ? Stage.FILE_COPY : Stage.METADATA)
            .restart(a);
    }

    /**
     * A valid frame of a random type, with random field values, of any direction.
     */
    static byte[] randomTemplate(final SplittableRandom r, final long snapshot)
    {
        switch (r.nextInt(22))
        {
            case 0:
                return clientHello();
            case 1:
                return hello(1 + r.nextInt(3), 1 + r.nextInt(3) + 3, r.nextBoolean() ? HelloCodec.ROLE_CLIENT :
                    HelloCodec.ROLE_DONOR, r.nextLong(), randomString(r, 200));
            case 2:
                return empty(FrameType.COM_CLONE);
            case 3:
                return versionInit();
            case 4:
                return locator(FrameType.COM_INIT, Locator.version(r.nextInt(3), 1 + r.nextInt(2), 1 + r.nextInt(3)));
            case 5:
                return locator(FrameType.COM_ATTACH, Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, snapshot,
                    r.nextInt(LocatorCodec.MAX_TASKS), Stage.FILE_COPY));
            case 6:
                return locator(FrameType.COM_REINIT, restartLocator(r, snapshot));
            case 7:
                return empty(FrameType.COM_EXECUTE);
            case 8:
                return frame(FrameType.COM_EXECUTE, body(4, (b) ->
                {
                    b.putInt(0, r.nextInt(ExecuteFlags.CHECKSUMS_ONLY * 2) | (r.nextBoolean() ? 0 :
                        ExecuteFlags.compress(ExecuteFlags.MIN_LEVEL + r.nextInt(ExecuteFlags.MAX_LEVEL))),
                        ByteOrder.LITTLE_ENDIAN);
                    return 4;
                }));
            case 9:
            {
                final int[][] e = new int[r.nextInt(6)][];
                for (int i = 0; i < e.length; i++)
                {
                    e[i] = new int[] { r.nextInt(64), r.nextInt(64), r.nextInt(2) };
                }
                return ack(e);
            }
            case 10:
                return error(FrameType.COM_EXIT, r.nextInt(3) == 0 ? 0 : r.nextInt(30), randomString(r, 40));
            case 11:
                return ping();
            case 12:
                return auth(FrameType.AUTH_RESPONSE);
            case 13:
                return locator(FrameType.COM_RES_LOCS, Locator.real(Locator.ENGINE_FILE_TREE, dev.ferry.core.protocol.Wire.PROTOCOL_MAX, snapshot, 0,
                    Stage.METADATA));
            case 14:
                return config(donorConfig(r.nextInt(5000)));
            case 15:
                return state(r.nextInt(5), r.nextInt(10), r.nextInt(10), r.nextInt(100_000), 65_536);
            case 16:
                return file(r.nextInt(8), r.nextInt(5000), 1 + r.nextInt(3),
                    HOSTILE_PATHS[r.nextInt(HOSTILE_PATHS.length)], "");
            case 17:
            {
                final byte[] d = RemoteTestSupport.random(r.nextLong(), 1 + r.nextInt(64));
                return dataDescriptor(r.nextInt(8), r.nextInt(4), r.nextInt(4), r.nextInt(4096), d.length, crc(d),
                    r.nextInt(4));
            }
            case 18:
                return dataFrame(RemoteTestSupport.random(r.nextLong(), r.nextInt(64)));
            case 19:
                return complete(r.nextInt(5), r.nextInt(4), r.nextInt(1000));
            case 20:
                return error(FrameType.COM_RES_ERROR, r.nextInt(30), randomString(r, 60));
            default:
                return auth(FrameType.AUTH_CHALLENGE + r.nextInt(3));
        }
    }

    /**
     * Damage a valid frame with one of the mutations (or hand it back as is, to be sent out of order).
     */
    static Mutant mutate(final SplittableRandom r, final byte[] valid)
    {
        final int templateType = typeOf(valid);
        final byte[] f = valid.clone();
        switch (r.nextInt(13))
        {
            case 0:
            {
                final int bits = 1 + r.nextInt(8);
                for (int i = 0; i < bits; i++)
                {
                    // a third of the flips land in the header
                    final int at = r.nextInt(3) == 0 ? r.nextInt(Math.min(8, f.length)) : r.nextInt(f.length);
                    f[at] ^= (byte)(1 << r.nextInt(8));
                }
                return new Mutant(f, "bit-flip", templateType);
            }
            case 1:
                return new Mutant(Arrays.copyOf(f, r.nextInt(f.length)), "truncate", templateType);
            case 2:
            {
                // a longer body, announced by the header
                final byte[] extra = RemoteTestSupport.random(r.nextLong(), 1 + r.nextInt(64));
                final byte[] g = concat(f, extra);
                FrameHeader.write(new UnsafeBuffer(g), 0, g.length, templateType);
                return new Mutant(g, "extend-body", templateType);
            }
            case 3:
                // bytes after the frame that the header does not announce: they are read as the next frame
                return new Mutant(concat(f, RemoteTestSupport.random(r.nextLong(), 1 + r.nextInt(32))), "extend-raw",
                    templateType);
            case 4:
                new UnsafeBuffer(f).putInt(FrameHeader.LENGTH_OFFSET,
                    LENGTH_BOUNDARIES[r.nextInt(LENGTH_BOUNDARIES.length)], ByteOrder.LITTLE_ENDIAN);
                return new Mutant(f, "length-boundary", templateType);
            case 5:
            {
                final int v = f.length + r.nextInt(17) - 8;
                new UnsafeBuffer(f).putInt(FrameHeader.LENGTH_OFFSET, v, ByteOrder.LITTLE_ENDIAN);
                return new Mutant(f, "length-off-by-" + (v - valid.length), templateType);
            }
            case 6:
            {
                final int t = r.nextBoolean() ? TYPE_BOUNDARIES[r.nextInt(TYPE_BOUNDARIES.length)] : r.nextInt(0x10000);
                new UnsafeBuffer(f).putShort(FrameHeader.TYPE_OFFSET, (short)t, ByteOrder.LITTLE_ENDIAN);
                return new Mutant(f, "type-boundary", templateType);
            }
            case 7:
            {
                if (f.length <= FrameHeader.HEADER_LENGTH)
                {
                    new UnsafeBuffer(f).putShort(FrameHeader.FLAGS_OFFSET, (short)r.nextInt(), ByteOrder.LITTLE_ENDIAN);
                    return new Mutant(f, "flags", templateType);
                }
                final int width = 1 << r.nextInt(4);
                final int at = FrameHeader.HEADER_LENGTH + r.nextInt(f.length - FrameHeader.HEADER_LENGTH);
                final long v = boundaryOrRandomLong(r);
                for (int i = 0; i < width && at + i < f.length; i++)
                {
                    f[at + i] = (byte)(v >>> (8 * i));
                }
                return new Mutant(f, "field-boundary", templateType);
            }
            case 8:
                return new Mutant(RemoteTestSupport.random(r.nextLong(), 1 + r.nextInt(96)), "random-bytes", -1);
            case 9:
            {
                // a valid header of a real type in front of random bytes
                final int t = randomKnownType(r);
                return new Mutant(frame(t, RemoteTestSupport.random(r.nextLong(), r.nextInt(96))), "random-body", t);
            }
            case 10:
            {
                // the body of this frame under the type of another
                final int t = randomKnownType(r);
                new UnsafeBuffer(f).putShort(FrameHeader.TYPE_OFFSET, (short)t, ByteOrder.LITTLE_ENDIAN);
                return new Mutant(f, "splice", t);
            }
            case 11:
                new UnsafeBuffer(f).putShort(FrameHeader.FLAGS_OFFSET, (short)(1 + r.nextInt(0xFFFF)),
                    ByteOrder.LITTLE_ENDIAN);
                return new Mutant(f, "flags", templateType);
            default:
                return new Mutant(f, "as-is", templateType);
        }
    }

    static int randomKnownType(final SplittableRandom r)
    {
        final int[] known = {
            FrameType.COM_INIT, FrameType.COM_ATTACH, FrameType.COM_REINIT, FrameType.COM_EXECUTE, FrameType.COM_ACK,
            FrameType.COM_EXIT, FrameType.HELLO, FrameType.AUTH_CHALLENGE, FrameType.AUTH_RESPONSE, FrameType.AUTH_OK,
            FrameType.COM_CLONE, FrameType.PING, FrameType.COM_RES_LOCS, FrameType.COM_RES_DATA_DESC,
            FrameType.COM_RES_DATA, FrameType.COM_RES_CONFIG, FrameType.COM_RES_COMPLETE, FrameType.COM_RES_ERROR,
            FrameType.COM_RES_QUEUED };
        return known[r.nextInt(known.length)];
    }

    /**
     * What a receiver that has accepted everything before must answer to {@code bytes} on their own, judged from the
     * frame checks alone: an error code, {@link #INCOMPLETE} if the bytes end before a frame does, or {@link #VALID}
     * if the first frame passes every check (then the session decides).
     */
    static int frameVerdict(final byte[] bytes, final int stagingCapacity, final int bulkType)
    {
        if (bytes.length < FrameHeader.HEADER_LENGTH)
        {
            return INCOMPLETE;
        }
        final UnsafeBuffer b = new UnsafeBuffer(bytes);
        final int header = FrameHeader.validate(b, 0, CAP);
        if (header != ErrorCode.OK)
        {
            return header;
        }
        final int length = FrameHeader.frameLength(b, 0);
        final int type = FrameHeader.type(b, 0);
        if (type == bulkType)
        {
            return BULK;
        }
        if (length > stagingCapacity)
        {
            return ErrorCode.FRAME_TOO_LARGE;
        }
        if (length > bytes.length)
        {
            return INCOMPLETE;
        }
        final int body = new FrameValidator(CAP).validateBody(type, b, FrameHeader.HEADER_LENGTH,
            length - FrameHeader.HEADER_LENGTH);
        return body == ErrorCode.OK ? VALID : body;
    }

    static final int INCOMPLETE = -1;
    static final int VALID = -2;
    static final int BULK = -3;

    /**
     * One frame parsed off a byte stream.
     */
    static final class Parsed
    {
        final int type;
        final int length;
        final int bodyOffset;

        Parsed(final int type, final int length, final int bodyOffset)
        {
            this.type = type;
            this.length = length;
            this.bodyOffset = bodyOffset;
        }
    }

    /**
     * Split a received byte stream into frames; every frame must pass {@link FrameValidator}.
     *
     * @param problems where to say what was wrong.
     * @return the frames, and (as the last element, type -1) any incomplete tail.
     */
    static List<Parsed> parseStream(final byte[] bytes, final int n, final List<String> problems)
    {
        final List<Parsed> out = new ArrayList<>();
        final UnsafeBuffer b = new UnsafeBuffer(bytes, 0, Math.max(1, n));
        final FrameValidator v = new FrameValidator(CAP);
        int p = 0;
        while (p + FrameHeader.HEADER_LENGTH <= n)
        {
            final int length = FrameHeader.frameLength(b, p);
            final int type = FrameHeader.type(b, p);
            if (length < FrameHeader.HEADER_LENGTH || length > CAP)
            {
                problems.add("frame header with length " + length + " type " + type + " at " + p);
                return out;
            }
            if (p + length > n)
            {
                break;
            }
            final int verdict = v.validate(b, p, length);
            if (verdict != ErrorCode.OK)
            {
                problems.add(FrameType.name(type) + " frame that fails validation with " + ErrorCode.name(verdict));
            }
            out.add(new Parsed(type, length, p + FrameHeader.HEADER_LENGTH));
            p += length;
        }
        if (p != n)
        {
            out.add(new Parsed(-1, n - p, p));
        }
        return out;
    }

    /**
     * Check a COM_RES_ERROR (or COM_EXIT) body by hand: int32 code, uint16 length, that many bytes of UTF-8.
     *
     * @return the code.
     */
    static int errorCode(final byte[] bytes, final Parsed f)
    {
        final ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        final int bodyLength = f.length - FrameHeader.HEADER_LENGTH;
        assertTrue(bodyLength >= 6, "error body of " + bodyLength + " bytes");
        final int messageLength = b.getShort(f.bodyOffset + 4) & 0xFFFF;
        assertEquals(6 + messageLength, bodyLength, "error body length");
        return b.getInt(f.bodyOffset);
    }

    static String errorMessage(final byte[] bytes, final Parsed f)
    {
        final int messageLength = (bytes[f.bodyOffset + 4] & 0xFF) | (bytes[f.bodyOffset + 5] & 0xFF) << 8;
        return new String(bytes, f.bodyOffset + 6, messageLength, StandardCharsets.UTF_8);
    }

    /**
     * @return every path under {@code dir} (links not followed), relative; empty if it does not exist.
     */
    static List<String> walk(final Path dir) throws IOException
    {
        return RemoteTestSupport.listAll(dir);
    }

    /**
     * @return the symlinks under {@code dir}, not following any.
     */
    static List<String> symlinks(final Path dir) throws IOException
    {
        final List<String> out = new ArrayList<>();
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS))
        {
            return out;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>()
        {
            @Override
            public FileVisitResult visitFile(final Path file, final BasicFileAttributes attrs)
            {
                if (attrs.isSymbolicLink())
                {
                    out.add(dir.relativize(file).toString());
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return out;
    }

    /**
     * Threads of client clones, by the names their agents give them.
     */
    static List<String> clientThreads()
    {
        final List<String> names = new ArrayList<>();
        for (final Thread t : Thread.getAllStackTraces().keySet())
        {
            if (t.isAlive() && (t.getName().startsWith("ferry-client-") || t.getName().startsWith("ferry-apply-")))
            {
                names.add(t.getName());
            }
        }
        return names;
    }

    static void awaitNoClientThreads() throws InterruptedException
    {
        final long deadline = System.nanoTime() + 3_000_000_000L;
        while (!clientThreads().isEmpty() && System.nanoTime() < deadline)
        {
            Thread.sleep(5);
        }
        assertEquals(List.of(), clientThreads(), "client threads left running after CloneClient.run() returned");
    }

    /**
     * Heap in use after a full collection.
     */
    static long usedHeapAfterGc() throws InterruptedException
    {
        final Runtime rt = Runtime.getRuntime();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++)
        {
            System.gc();
            Thread.sleep(50);
            best = Math.min(best, rt.totalMemory() - rt.freeMemory());
        }
        return best;
    }
}
