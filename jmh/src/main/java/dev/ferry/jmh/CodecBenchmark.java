package dev.ferry.jmh;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.FrameValidator;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

/**
 * Cost of the wire codecs on the hot and the restart paths, over {@link UnsafeBuffer}s backed by direct
 * {@link ByteBuffer}s as in the transport.
 * <ul>
 *   <li>{@code encodeData}, {@code wrapValidateReadData}, {@code encodeValidateReadData}: a DATA descriptor is
 *   written by the donor and wrapped, validated and read by the recipient once per block (1 MiB by default), so
 *   this bounds the per-block protocol overhead. It should stay in the tens of nanoseconds.</li>
 *   <li>{@code validateDataDescFrame}: {@link FrameValidator#validate} of a whole {@code COM_RES_DATA_DESC} frame
 *   (header and body), which the recipient runs on every frame before reading a field.</li>
 *   <li>{@code encodeRestartLocator}, {@code validateDecodeRestartLocator}: a restart locator for a 10,000-chunk
 *   clone (625 GiB at 64 MiB chunks; 75% of the chunks complete, scattered, and 157 partly applied). It is sent on
 *   every reconnection ({@code COM_REINIT}) and journaled about once a second, so it must stay cheap even for
 *   big clones; decoding allocates the {@link Locator} by design.</li>
 * </ul>
 * One thread; the state is per thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Dagrona.disable.bounds.checks=true"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class CodecBenchmark
{
    /** Chunks described by the restart locator. */
    static final int RESTART_CHUNKS = 10_000;

    private static final int BLOCK_SIZE = 1024 * 1024;
    private static final int BLOCKS_PER_CHUNK = 64;
    private static final int FLAGS = DescriptorFlyweight.DATA_FLAG_CRC;

    private final DescriptorFlyweight flyweight = new DescriptorFlyweight();
    private final FrameValidator validator = new FrameValidator(FrameHeader.DEFAULT_MAX_FRAME_LENGTH);

    /** Written by the encode benchmarks. */
    private UnsafeBuffer encodeBuffer;
    /** Holds a valid DATA descriptor, read by the decode benchmarks and never written after setup. */
    private UnsafeBuffer dataBuffer;
    /** Holds a whole COM_RES_DATA_DESC frame: header, then a DATA descriptor. */
    private UnsafeBuffer frameBuffer;
    private int frameLength;

    private Locator restartLocator;
    private UnsafeBuffer locatorEncodeBuffer;
    private UnsafeBuffer locatorBuffer;
    private int locatorLength;

    /** Changes every invocation so that no field value is a constant to the JIT. */
    private int sequence;

    @Setup
    public void setup()
    {
        encodeBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
        dataBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
        DescriptorFlyweight.encodeData(dataBuffer, 0, 17, 42, 7, 42L * BLOCKS_PER_CHUNK * BLOCK_SIZE + 7L * BLOCK_SIZE,
            BLOCK_SIZE, 0x1EDC6F41, FLAGS);

        frameBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
        frameLength = FrameHeader.HEADER_LENGTH + DescriptorFlyweight.DATA_LENGTH;
        FrameHeader.write(frameBuffer, 0, frameLength, FrameType.COM_RES_DATA_DESC);
        DescriptorFlyweight.encodeData(frameBuffer, FrameHeader.HEADER_LENGTH, 17, 42, 7, 7L * BLOCK_SIZE, BLOCK_SIZE,
            0x1EDC6F41, FLAGS | DescriptorFlyweight.DATA_FLAG_LAST_IN_CHUNK);
        check(validator.validate(frameBuffer, 0, frameLength), "frame");

        final AppliedState applied = new AppliedState(RESTART_CHUNKS);
        for (int i = 0; i < RESTART_CHUNKS; i++)
        {
            if ((i & 3) != 3)
            {
                applied.onApplied(i, BLOCKS_PER_CHUNK, true);
            }
            else if ((i & 63) == 3)
            {
                applied.onApplied(i, 1 + (i % (BLOCKS_PER_CHUNK - 1)), false);
            }
        }
        restartLocator = Locator.real(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MAX, 0x5EED_F00DL, 3, Stage.FILE_COPY)
            .restart(applied);
        final int capacity = LocatorCodec.encodedLength(restartLocator);
        locatorEncodeBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(capacity));
        locatorBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(capacity));
        locatorLength = LocatorCodec.encode(locatorBuffer, 0, restartLocator);
        check(LocatorCodec.validate(locatorBuffer, 0, locatorLength), "restart locator");
        if (!applied.equals(LocatorCodec.decode(locatorBuffer, 0).applied()))
        {
            throw new IllegalStateException("restart locator does not round-trip");
        }
    }

    /**
     * Donor side: write one DATA descriptor.
     */
    @Benchmark
    public int encodeData()
    {
        final int n = ++sequence;
        return DescriptorFlyweight.encodeData(encodeBuffer, 0, n & 0xFFFF, n >>> 6, n & 63,
            (long)n * BLOCK_SIZE, BLOCK_SIZE, n * 0x9E3779B9, FLAGS);
    }

    /**
     * Recipient side: wrap, validate and read every field of a DATA descriptor.
     */
    @Benchmark
    public void wrapValidateReadData(final Blackhole bh)
    {
        final DescriptorFlyweight d = flyweight.wrap(dataBuffer, 0, DescriptorFlyweight.DATA_LENGTH);
        bh.consume(d.validate());
        bh.consume(d.fileIndex());
        bh.consume(d.dataChunk());
        bh.consume(d.dataBlock());
        bh.consume(d.dataPosition());
        bh.consume(d.dataLength());
        bh.consume(d.dataCrc());
        bh.consume(d.isLastInChunk());
        bh.consume(d.hasCrc());
        bh.consume(d.hasBody());
    }

    /**
     * Both sides back to back on one buffer: encode, wrap, validate, read every field.
     */
    @Benchmark
    public void encodeValidateReadData(final Blackhole bh)
    {
        final int n = ++sequence;
        final int length = DescriptorFlyweight.encodeData(encodeBuffer, 0, n & 0xFFFF, n >>> 6, n & 63,
            (long)n * BLOCK_SIZE, BLOCK_SIZE, n * 0x9E3779B9, FLAGS);
        final DescriptorFlyweight d = flyweight.wrap(encodeBuffer, 0, length);
        bh.consume(d.validate());
        bh.consume(d.fileIndex());
        bh.consume(d.dataChunk());
        bh.consume(d.dataBlock());
        bh.consume(d.dataPosition());
        bh.consume(d.dataLength());
        bh.consume(d.dataCrc());
        bh.consume(d.isLastInChunk());
        bh.consume(d.hasCrc());
        bh.consume(d.hasBody());
    }

    /**
     * Recipient side: header and body checks of a whole {@code COM_RES_DATA_DESC} frame.
     */
    @Benchmark
    public int validateDataDescFrame()
    {
        return validator.validate(frameBuffer, 0, frameLength);
    }

    /**
     * Client side of a reconnection: encode the restart locator of a 10,000-chunk clone.
     */
    @Benchmark
    public int encodeRestartLocator()
    {
        return LocatorCodec.encode(locatorEncodeBuffer, 0, restartLocator);
    }

    /**
     * Donor side of a reconnection: validate, then decode, the restart locator of a 10,000-chunk clone.
     */
    @Benchmark
    public Locator validateDecodeRestartLocator()
    {
        final int result = LocatorCodec.validate(locatorBuffer, 0, locatorLength);
        if (result != ErrorCode.OK)
        {
            throw new IllegalStateException("restart locator refused: " + result);
        }
        return LocatorCodec.decode(locatorBuffer, 0);
    }

    private static void check(final int result, final String what)
    {
        if (result != ErrorCode.OK)
        {
            throw new IllegalStateException(what + " refused: " + result);
        }
    }
}
