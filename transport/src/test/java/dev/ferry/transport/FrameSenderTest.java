package dev.ferry.transport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FrameSender} against a socket seam that takes a set number of bytes per flush, as a full socket does:
 * claim/commit, room and compaction, file regions in calls of at most {@code transferCap} bytes across partial sends,
 * the order of frames and regions on the wire, and a file that ends before its region.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class FrameSenderTest
{
    private static final int CAPACITY = 64 * 1024;

    @TempDir
    Path dir;

    @Test
    void claimThenCommitShrinksTheFrameToWhatWasWritten() throws IOException
    {
        final FrameSender sender = new FrameSender(CAPACITY, 1024);
        final int at = sender.claim(FrameType.HELLO, 100);
        assertEquals(FrameHeader.HEADER_LENGTH, at);
        sender.buffer().putBytes(at, new byte[] { 1, 2, 3 });
        sender.commit(at, 3);
        assertThrows(IllegalArgumentException.class, () -> sender.commit(at, 4), "a commit never grows a frame");
        final int next = sender.claim(FrameType.PING, 0);
        assertEquals(at + 3 + FrameHeader.HEADER_LENGTH, next, "the next frame follows the committed length");
        assertThrows(IllegalArgumentException.class, () -> sender.commit(at, 1), "only the last claim can be committed");

        final RecordingIo io = new RecordingIo(Integer.MAX_VALUE);
        sender.flush(io);
        assertTrue(sender.isEmpty());
        final UnsafeBuffer wire = new UnsafeBuffer(io.bytes());
        assertEquals(2 * FrameHeader.HEADER_LENGTH + 3, wire.capacity());
        assertEquals(FrameHeader.HEADER_LENGTH + 3, FrameHeader.frameLength(wire, 0));
        assertEquals(FrameType.HELLO, FrameHeader.type(wire, 0));
        assertEquals(3, wire.getByte(FrameHeader.HEADER_LENGTH + 2));
        assertEquals(FrameType.PING, FrameHeader.type(wire, FrameHeader.HEADER_LENGTH + 3));
    }

    @Test
    void claimsThatCannotFitAreRefusedNeverHandedOutAsAnOffset()
    {
        final FrameSender sender = new FrameSender(CAPACITY, 1024);
        assertEquals(FrameSender.NO_ROOM, sender.claim(FrameType.HELLO, -1));
        assertEquals(FrameSender.NO_ROOM, sender.claim(FrameType.HELLO, Integer.MAX_VALUE));
        assertEquals(FrameSender.NO_ROOM, sender.claim(FrameType.HELLO, CAPACITY));
        assertTrue(sender.claim(FrameType.HELLO, CAPACITY - FrameHeader.HEADER_LENGTH) >= 0, "exactly full fits");
        assertEquals(FrameSender.NO_ROOM, sender.claim(FrameType.PING, 0));
        assertFalse(sender.hasRoom(FrameHeader.HEADER_LENGTH));
    }

    @Test
    void roomComesBackAsTheSocketTakesBytes() throws IOException
    {
        final FrameSender sender = new FrameSender(CAPACITY, 1024);
        final UnsafeBuffer body = new UnsafeBuffer(new byte[1000]);
        int frames = 0;
        while (sender.send(FrameType.COM_RES_DATA, body, 0, body.capacity()))
        {
            frames++;
        }
        assertEquals(CAPACITY / (FrameHeader.HEADER_LENGTH + 1000), frames);
        final RecordingIo io = new RecordingIo(10_000);
        sender.flush(io);
        assertFalse(sender.isEmpty(), "the socket took only part");
        assertTrue(sender.hasRoom(9_000), "the sent part is reusable: the buffer compacts");
        assertTrue(sender.send(FrameType.COM_RES_DATA, body, 0, body.capacity()));
        io.budget = Integer.MAX_VALUE;
        sender.flush(io);
        assertTrue(sender.isEmpty());
        assertEquals((frames + 1) * (FrameHeader.HEADER_LENGTH + 1000), io.bytes().length);
    }

    @Test
    void aRegionFollowsItsHeaderInCallsOfAtMostTheCapAcrossPartialSends() throws IOException
    {
        final byte[] content = new byte[300_000];
        new SplittableRandom(11).nextBytes(content);
        final Path file = Files.write(dir.resolve("region.bin"), content);
        final long cap = 7_000;
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ))
        {
            final FrameSender sender = new FrameSender(CAPACITY, cap);
            final UnsafeBuffer desc = new UnsafeBuffer(new byte[] { 9, 9, 9, 9 });
            assertTrue(sender.send(FrameType.COM_RES_DATA_DESC, desc, 0, 4));
            assertTrue(sender.sendRegion(FrameType.COM_RES_DATA, fc, 1_000, 250_000));
            assertFalse(sender.send(FrameType.PING, desc, 0, 0), "nothing is queued behind a pending region");
            assertEquals(FrameSender.NO_ROOM, sender.claim(FrameType.PING, 0));
            assertFalse(sender.hasRoom(FrameHeader.HEADER_LENGTH));

            final RecordingIo io = new RecordingIo(100_000);
            int flushes = 0;
            while (!sender.isEmpty())
            {
                sender.flush(io);
                io.budget += 100_000; // the socket drains between flushes
                flushes++;
            }
            assertEquals(3, flushes, "each flush sends as much as the socket takes, over many transfer calls");
            assertTrue(io.transferCounts.stream().allMatch(n -> n <= cap), "calls of at most the cap: " + io.transferCounts);
            assertTrue(io.transferCounts.size() >= 250_000 / cap, io.transferCounts.toString());
            assertEquals(250_000, sender.fileBytes());

            final byte[] wire = io.bytes();
            final UnsafeBuffer view = new UnsafeBuffer(wire);
            final int second = FrameHeader.HEADER_LENGTH + 4;
            assertEquals(FrameType.COM_RES_DATA_DESC, FrameHeader.type(view, 0));
            assertEquals(FrameType.COM_RES_DATA, FrameHeader.type(view, second));
            assertEquals(FrameHeader.HEADER_LENGTH + 250_000, FrameHeader.frameLength(view, second));
            assertArrayEquals(Arrays.copyOfRange(content, 1_000, 251_000),
                Arrays.copyOfRange(wire, second + FrameHeader.HEADER_LENGTH, wire.length));
            assertEquals(FrameHeader.HEADER_LENGTH, sender.claim(FrameType.PING, 0),
                "after the region the buffer starts over");
        }
    }

    @Test
    void aFileThatEndsBeforeItsRegionFailsTheSendWithFileChanged() throws IOException
    {
        final Path file = Files.write(dir.resolve("short.bin"), new byte[5_000]);
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ))
        {
            final FrameSender sender = new FrameSender(CAPACITY, 1024);
            assertTrue(sender.sendRegion(FrameType.COM_RES_DATA, fc, 0, 8_000));
            final ConnectionFailure ex = assertThrows(ConnectionFailure.class, () -> sender.flush(new RecordingIo(1 << 20)));
            assertEquals(ErrorCode.FILE_CHANGED, ex.code, ex.getMessage());
            assertTrue(ex.getMessage().contains("5000") && ex.getMessage().contains("8000"), ex.getMessage());
        }
    }

    @Test
    void abandonForgetsEverythingUnsent() throws IOException
    {
        final Path file = Files.write(dir.resolve("a.bin"), new byte[10_000]);
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ))
        {
            final FrameSender sender = new FrameSender(CAPACITY, 1024);
            assertTrue(sender.sendRegion(FrameType.COM_RES_DATA, fc, 0, 10_000));
            sender.flush(new RecordingIo(3_000));
            assertTrue(sender.hasRegion());
            sender.abandon();
            assertTrue(sender.isEmpty());
            assertEquals(FrameHeader.HEADER_LENGTH, sender.claim(FrameType.COM_RES_ERROR, 10));
        }
    }

    /**
     * Clear text with a socket that takes {@link #budget} more bytes, then is full.
     */
    static final class RecordingIo implements SocketIo
    {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final List<Long> transferCounts = new ArrayList<>();
        long budget;

        RecordingIo(final long budget)
        {
            this.budget = budget;
        }

        byte[] bytes()
        {
            return out.toByteArray();
        }

        @Override
        public int write(final ByteBuffer src)
        {
            final int n = (int)Math.min(src.remaining(), budget);
            final byte[] b = new byte[n];
            src.get(b);
            out.write(b, 0, n);
            budget -= n;
            return n;
        }

        @Override
        public long transferFrom(final FileChannel file, final long position, final long count) throws IOException
        {
            transferCounts.add(count);
            if (position >= file.size())
            {
                return END_OF_STREAM;
            }
            final ByteBuffer b = ByteBuffer.allocate((int)Math.min(count, budget));
            final int n = Math.max(0, file.read(b, position));
            out.write(b.array(), 0, n);
            budget -= n;
            return n;
        }

        @Override
        public boolean isTls()
        {
            return false;
        }

        @Override
        public String session()
        {
            return null;
        }

        @Override
        public int read(final ByteBuffer dst, final boolean socketAllowed)
        {
            return 0;
        }

        @Override
        public boolean hasBufferedInput()
        {
            return false;
        }

        @Override
        public boolean flushPending()
        {
            return true;
        }

        @Override
        public boolean hasPendingOutput()
        {
            return false;
        }

        @Override
        public boolean readyForData()
        {
            return true;
        }

        @Override
        public boolean needsHandshakeStep()
        {
            return false;
        }

        @Override
        public boolean discardPendingRegion()
        {
            return false;
        }

        @Override
        public long takeWireBytesRead()
        {
            return 0;
        }

        @Override
        public long takeWireBytesWritten()
        {
            return 0;
        }

        @Override
        public void close()
        {
        }
    }
}
