package dev.ferry.engine.recipient;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.agrona.DirectBuffer;
import org.agrona.collections.Int2IntHashMap;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.NoOpIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.jctools.queues.MpscArrayQueue;

import dev.ferry.core.protocol.AckCodec;
import dev.ferry.core.protocol.ConfigCodec;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.ExecuteFlags;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.PeerText;
import dev.ferry.core.protocol.QueuedCodec;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.ValidatingHandler;
import dev.ferry.transport.Connection;
import dev.ferry.transport.ConnectionHandler;
import dev.ferry.transport.EventLoop;

/**
 * The client's side of one connection (one clone task), a state machine over the remote clone flow:
 * <pre>
 * HELLO --hello--> (COM_CLONE, COM_INIT | COM_ATTACH | COM_REINIT) --COM_RES_LOCS--> --COM_RES_CONFIG--> COM_EXECUTE
 *   --> STREAMING (descriptors applied, data handed to apply workers, COM_ACK batched back)
 *   --COM_RES_COMPLETE, all blocks applied--> COMPLETE --(clone synced)--> COM_EXIT --> DONE
 * </pre>
 * It owns its {@link EventLoop} thread, its connection and a pool of block buffers. When the pool is empty it stops
 * reading, so a slow disk slows the donor through TCP flow control instead of filling memory.
 */
final class ClientTask implements ConnectionHandler
{
    private static final int STATE_HELLO = 0;
    private static final int STATE_LOCS = 1;
    private static final int STATE_CONFIG = 2;
    private static final int STATE_STREAMING = 3;
    private static final int STATE_COMPLETE = 4;
    private static final int STATE_DONE = 5;
    /** After COM_CLONE, before COM_REINIT: sending what the copy has (COM_HAVE). */
    private static final int STATE_HAVE = 6;
    /** After COM_RES_CONFIG: an update waits for its copy to be read before it asks for the manifest. */
    private static final int STATE_AWAIT_COPY = 7;

    private final CloneRun run;
    private final int generation;
    private final int index;
    private final CloneMode mode;
    /** What this task sends in COM_INIT / COM_ATTACH / COM_REINIT: decided by the driver when it made the task. */
    private final Locator request;
    /** Acknowledged blocks of this generation: from the driver, or (master) from the manifest this task received. */
    private AckedBlocks acked;
    /** For the trace: this task has received a data block. */
    private boolean firstData;
    private Locator real;
    private final EventLoop loop;
    private final MpscArrayQueue<BlockBuffer> done;
    private final ArrayDeque<BlockBuffer> free = new ArrayDeque<>();
    /** Block buffers this task has made so far (at most the pool's size); the loop thread's. */
    private int buffersMade;
    private final UnsafeBuffer pendingDescriptor = new UnsafeBuffer(ByteBuffer.allocateDirect(DescriptorFlyweight.DATA_LENGTH));
    private final DescriptorFlyweight desc = new DescriptorFlyweight();
    private final Int2IntHashMap ackBlocks = new Int2IntHashMap(-1);
    private final Int2IntHashMap nextBlock = new Int2IntHashMap(-1);
    private final org.agrona.collections.IntHashSet poisoned = new org.agrona.collections.IntHashSet();
    private final org.agrona.collections.Long2LongHashMap chunkStart = new org.agrona.collections.Long2LongHashMap(-1);
    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[8192]);
    private AgentRunner runner;
    private Connection connection;
    private int state = STATE_HELLO;
    private boolean expectData;
    private BlockBuffer receiving;
    private int inFlight;
    private int blockSize;
    private final AckBatch ackBatch = new AckBatch();
    private long lastNetworkBytes;
    private volatile boolean waitingForBuffer;
    private volatile boolean finished;
    private boolean reportedComplete;
    private boolean metadataOnly;
    private final ClientHandshake handshake;
    /** The master of a restart after a merge: what the copy has, sent before COM_REINIT. */
    private final HaveList have;
    private final HaveList.Frames haveFrames;

    ClientTask(final CloneRun run, final int index, final CloneMode mode)
    {
        this.generation = run.generation();
        this.handshake = new ClientHandshake(run.secret());
        this.run = run;
        this.index = index;
        this.mode = mode;
        this.request = mode == CloneMode.START ? run.versionLocator() :
            mode == CloneMode.ATTACH ? run.locator().withTask(index) : run.restartLocator();
        this.acked = run.acked();
        this.have = mode == CloneMode.RESTART && index == 0 ? run.pendingHave() : null;
        this.haveFrames = have == null ? null : have.frames();
        this.loop = new EventLoop("ferry-client-" + index, 5);
        this.done = new MpscArrayQueue<>(Math.max(16, run.poolBuffers() * 2));
    }

    int index()
    {
        return index;
    }

    int generation()
    {
        return generation;
    }

    CloneMode mode()
    {
        return mode;
    }

    /**
     * Connect, say hello and start the loop thread. Called by the clone's driver thread.
     */
    void start(final InetSocketAddress donor)
    {
        final SocketChannel ch;
        try
        {
            ch = Connection.connect(donor, run.transport());
            connection = Connection.register(loop, ch, run.transport(),
                ValidatingHandler.client(this, run.transport().maxFrameLength()));
            connection.throttle(run.throttle());
        }
        catch (final IOException ex)
        {
            loop.onClose();
            // nothing was sent yet: the one thing to do is to check where the donor is (no --resume: nothing to resume)
            throw new FerryException(ErrorCode.NETWORK, "cannot connect to donor " + donor + ": " + ex.getMessage(),
                "check the address, and that `ferry donor` runs there", ex);
        }
        connection.bulkType(FrameType.COM_RES_DATA);
        final int at = claim(connection, FrameType.HELLO, HelloCodec.MAX_LENGTH);
        final int len = HelloCodec.encode(connection.sendBuffer(), at, run.protocolMin(), run.protocolMax(),
            HelloCodec.ROLE_CLIENT, HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART | HelloCodec.FEATURE_QUEUE |
            (connection.isTls() ? HelloCodec.FEATURE_TLS : 0), "ferry");
        connection.commit(at, len);
        connection.flush();
        runner = new AgentRunner(new NoOpIdleStrategy(), run::onLoopError, null, loop);
        AgentRunner.startOnThread(runner);
    }

    /**
     * Ask the donor for the manifest only (resume by manifest). Before {@link #start}.
     */
    void metadataOnly()
    {
        metadataOnly = true;
    }

    /**
     * @return this task's acknowledgements (its own loop thread).
     */
    AckedBlocks acked()
    {
        return acked;
    }

    void stop()
    {
        if (runner != null)
        {
            runner.close();
        }
        else
        {
            loop.onClose();
        }
    }

    @Override
    public void onFrame(final Connection c, final int type, final DirectBuffer body, final int offset, final int length)
    {
        try
        {
            handle(type, body, offset, length);
        }
        catch (final FerryException ex)
        {
            fail(ex);
        }
        catch (final RuntimeException ex)
        {
            fail(new FerryException(ErrorCode.INTERNAL, "client task " + index + " failed: " + ex, ex));
        }
    }

    private void handle(final int type, final DirectBuffer body, final int offset, final int length)
    {
        if (type == FrameType.COM_RES_ERROR)
        {
            final FerryException ex = donorError(body, offset);
            if (ex.code() == ErrorCode.DONOR_SHUTDOWN && (state >= STATE_LOCS || run.locator() != null))
            {
                // like a lost connection, but announced: the driver waits for the donor (or stops with --no-wait)
                run.onNetworkFailure(this, ex);
                connection.close(ErrorCode.CANCELLED, "the donor shut down");
                return;
            }
            throw ex;
        }
        switch (state)
        {
            case STATE_HELLO:
                onHandshake(type, body, offset);
                break;

            case STATE_LOCS:
            {
                if (type == FrameType.COM_RES_QUEUED && mode == CloneMode.START)
                {
                    // the donor serves its maximum of clones: this one waits its turn (PROTOCOL.md 6.4)
                    run.progress().queued(QueuedCodec.position(body, offset), QueuedCodec.waiting(body, offset));
                    break;
                }
                expect(type, FrameType.COM_RES_LOCS);
                run.progress().queued(0, 0);
                final Locator real = LocatorCodec.decode(body, offset);
                if (real.kind() != Locator.KIND_REAL || real.snapshotId() == 0 ||
                    real.protocol() < run.protocolMin() || real.protocol() > run.protocolMax())
                {
                    throw new FerryException(ErrorCode.BAD_LOCATOR, "donor answered with an unusable locator " + real);
                }
                run.onLocator(this, real);
                if (have != null)
                {
                    run.haveDelivered(have);
                }
                this.real = real;
                state = STATE_CONFIG;
                break;
            }

            case STATE_CONFIG:
            {
                expect(type, FrameType.COM_RES_CONFIG);
                final Map<String, String> config = ConfigCodec.decode(body, offset);
                blockSize = run.validateConfig(config); // buffers are made as blocks arrive (acquireBody)
                if (metadataOnly)
                {
                    if (!run.copyReady())
                    {
                        state = STATE_AWAIT_COPY; // onTick asks once the copy is read
                        break;
                    }
                    executeMetadataOnly();
                }
                else if (run.executeFlags() != 0)
                {
                    final int at = claim(connection, FrameType.COM_EXECUTE, ExecuteFlags.LENGTH);
                    connection.sendBuffer().putInt(at, run.executeFlags(), dev.ferry.core.protocol.Wire.BYTE_ORDER);
                    connection.flush();
                }
                else
                {
                    sendEmpty(FrameType.COM_EXECUTE);
                }
                state = STATE_STREAMING;
                break;
            }

            case STATE_STREAMING:
                if (type == FrameType.COM_RES_DATA_DESC)
                {
                    onDescriptor(body, offset, length);
                }
                else if (type == FrameType.COM_RES_COMPLETE)
                {
                    if (expectData)
                    {
                        throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "COM_RES_COMPLETE where data was announced");
                    }
                    if (acked == null || run.manifestStreaming())
                    {
                        throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor completed before its manifest " +
                            "reached the file copy stage");
                    }
                    run.onDonorComplete(dev.ferry.core.protocol.CompleteCodec.changed(body, offset),
                        dev.ferry.core.protocol.CompleteCodec.frozenNanos(body, offset));
                    if (metadataOnly)
                    {
                        run.onMetadataOnlyComplete(this);
                        sendExit(connection, ErrorCode.OK, "");
                        break;
                    }
                    state = STATE_COMPLETE;
                }
                else
                {
                    throw unexpected(type);
                }
                break;

            default:
                throw unexpected(type);
        }
    }

    /**
     * A donor's COM_RES_ERROR, its message escaped (it is the donor's text). Code 0 names no error: a protocol error
     * of its own, so a broken copy never ends as if all were well.
     */
    private FerryException donorError(final DirectBuffer body, final int offset)
    {
        final int code = ErrorCodec.code(body, offset);
        final String message = ErrorCodec.printableMessage(body, offset);
        if (code == ErrorCode.OK)
        {
            return new FerryException(ErrorCode.MALFORMED_FRAME, "donor " + connection.peer() + " sent COM_RES_ERROR " +
                "with code 0 (OK), which names no error; the clone is not complete (its message: '" + message + "')");
        }
        if (code == ErrorCode.DONOR_SHUTDOWN)
        {
            return new FerryException(code, "donor " + connection.peer() + " shut down: " + message);
        }
        return new FerryException(code, "donor " + connection.peer() + " refused: " + message);
    }

    /**
     * HELLO (and authentication when the donor requires it), then COM_CLONE and the locator.
     */
    private void onHandshake(final int type, final DirectBuffer body, final int offset)
    {
        if (handshake.onFrame(connection, type, body, offset))
        {
            sendEmpty(FrameType.COM_CLONE);
            if (haveFrames != null)
            {
                state = STATE_HAVE;
                pumpHave();
                return;
            }
            sendLocator();
            state = STATE_LOCS;
        }
    }

    /**
     * Send as many COM_HAVE frames as the send buffer takes; after the last one, the COM_REINIT.
     */
    private void pumpHave()
    {
        while (!haveFrames.done())
        {
            final int len = haveFrames.nextLength();
            final int at = connection.claim(FrameType.COM_HAVE, len);
            if (at < 0)
            {
                connection.flush();
                return; // onWritable or the next tick goes on
            }
            connection.commit(at, haveFrames.encodeNext(connection.sendBuffer(), at));
        }
        connection.flush();
        sendLocator();
        state = STATE_LOCS;
    }

    private void onDescriptor(final DirectBuffer body, final int offset, final int length)
    {
        if (expectData)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "a descriptor where data was announced");
        }
        desc.wrap(body, offset, length);
        switch (desc.type())
        {
            case DescriptorFlyweight.TYPE_DATA:
                if (!desc.hasBody())
                {
                    throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "a checksum-only descriptor in a clone");
                }
                if (desc.isCompressed() && (metadataOnly || (run.executeFlags() & ExecuteFlags.COMPRESS) == 0))
                {
                    throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "a compressed block, which this clone did " +
                        "not ask for");
                }
                if (desc.dataLength() > blockSize || desc.dataLength() == 0)
                {
                    throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "data block of " + desc.dataLength() +
                        " bytes, block size is " + blockSize);
                }
                checkPlacement(desc);
                if (!firstData)
                {
                    firstData = true;
                    dev.ferry.engine.Trace.mark("first data block on connection " + index);
                }
                pendingDescriptor.putBytes(0, body, offset, DescriptorFlyweight.DATA_LENGTH);
                expectData = true;
                break;
            case DescriptorFlyweight.TYPE_STATE:
            case DescriptorFlyweight.TYPE_FILE:
                if (index != 0)
                {
                    throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "metadata on a worker connection");
                }
                final AckedBlocks layout = run.applyMetadata(this, real, body, offset, length, desc);
                if (layout != null)
                {
                    acked = layout;
                }
                break;
            default:
                throw new FerryException(ErrorCode.MALFORMED_FRAME, "unknown descriptor type " + desc.type());
        }
    }

    /**
     * A DATA descriptor must be exactly the next block the manifest's chunk layout says: right chunk range, next
     * block of its chunk (so the applied prefix never has holes), right file, offset, length and last-block flag.
     * Anything else is a broken or hostile donor.
     */
    private void checkPlacement(final DescriptorFlyweight d)
    {
        final dev.ferry.engine.layout.ChunkPlan plan = acked == null ? null : acked.plan();
        final int chunk = d.dataChunk();
        final int block = d.dataBlock();
        if (plan == null || chunk >= plan.closedChunks() || block >= plan.chunkBlocks(chunk))
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block " + block + " of chunk " + chunk +
                " is outside the manifest's " + (plan == null ? 0 : plan.chunkCount()) + " chunks");
        }
        int expected = nextBlock.get(chunk);
        if (expected < 0)
        {
            expected = acked.resumeBlock(chunk);
        }
        if (block != expected)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block " + block + " of chunk " + chunk +
                " arrived where block " + expected + " was due");
        }
        final int segment = plan.segmentOf(chunk, block);
        final long position = plan.segmentOffset(segment) + (long)(block - plan.segmentFirstBlock(segment)) * plan.blockSize();
        final long end = plan.segmentOffset(segment) + plan.segmentLength(segment);
        final boolean last = block + 1 == plan.chunkBlocks(chunk);
        if (d.fileIndex() != plan.segmentFile(segment) || d.dataPosition() != position ||
            d.dataLength() != (int)Math.min(plan.blockSize(), end - position) || d.isLastInChunk() != last)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "block " + block + " of chunk " + chunk +
                " does not match the manifest's layout (file " + d.fileIndex() + " offset " + d.dataPosition() + ")");
        }
        if (last)
        {
            nextBlock.remove(chunk);
        }
        else
        {
            nextBlock.put(chunk, block + 1);
        }
    }

    private void expect(final int type, final int expected)
    {
        if (type != expected)
        {
            throw unexpected(type);
        }
    }

    private FerryException unexpected(final int type)
    {
        return new FerryException(ErrorCode.UNEXPECTED_COMMAND, "donor sent " + FrameType.name(type) +
            " out of order (client task " + index + ", state " + state + ")");
    }

    /**
     * Claim a frame in the send buffer; no room is a bug (every caller checked or sized it), never a write at -1.
     */
    static int claim(final Connection c, final int type, final int length)
    {
        final int at = c.claim(type, length);
        if (at < 0)
        {
            throw new FerryException(ErrorCode.INTERNAL, "no room in the send buffer for " + FrameType.name(type) +
                " of " + length + " bytes");
        }
        return at;
    }

    private void sendEmpty(final int type)
    {
        if (connection.claim(type, 0) < 0)
        {
            throw new FerryException(ErrorCode.INTERNAL, "send buffer full for " + FrameType.name(type));
        }
        connection.flush();
    }

    private void sendLocator()
    {
        final int type = mode == CloneMode.START ? FrameType.COM_INIT :
            mode == CloneMode.ATTACH ? FrameType.COM_ATTACH : FrameType.COM_REINIT;
        final Locator l = request;
        final int at = connection.claim(type, LocatorCodec.encodedLength(l));
        if (at < 0)
        {
            throw new FerryException(ErrorCode.INTERNAL, "locator does not fit the send buffer");
        }
        LocatorCodec.encode(connection.sendBuffer(), at, l);
        connection.flush();
    }

    @Override
    public ByteBuffer acquireBody(final Connection c, final int length)
    {
        if (!expectData || length != pendingDescriptor.getInt(DescriptorFlyweight.DATA_BODY_LENGTH_OFFSET,
            dev.ferry.core.protocol.Wire.BYTE_ORDER))
        {
            fail(new FerryException(ErrorCode.BAD_DESCRIPTOR, expectData ?
                "data frame length " + length + " disagrees with its descriptor" : "data frame without a descriptor"));
            return null;
        }
        BlockBuffer b = free.poll();
        if (b == null && buffersMade < run.poolBuffers())
        {
            // made on first need, not all at COM_RES_CONFIG: zeroing a pool of 32 blocks took 30-45 ms before
            // COM_EXECUTE, and a manifest-only task or a small update never needs most of them
            b = new BlockBuffer(this, blockSize);
            buffersMade++;
        }
        if (b == null)
        {
            waitingForBuffer = true;
            return null;
        }
        b.descriptor.putBytes(0, pendingDescriptor, 0, DescriptorFlyweight.DATA_LENGTH);
        final int chunk = b.flyweight.dataChunk();
        if (!chunkStart.containsKey(chunk))
        {
            chunkStart.put(chunk, System.nanoTime());
        }
        b.data.clear();
        b.error = null;
        receiving = b;
        return b.data;
    }

    @Override
    public void onBody(final Connection c, final ByteBuffer body, final int length)
    {
        final BlockBuffer b = receiving;
        receiving = null;
        expectData = false;
        b.length = length;
        inFlight++;
        run.onOffered(length);
        if (!run.worker(index).offer(b))
        {
            fail(new FerryException(ErrorCode.INTERNAL, "apply queue full"));
        }
    }

    /**
     * Buffers a worker returns, while this task's loop waits for one and the worker still has more of this task's
     * blocks queued, before it wakes the loop ({@code -Dferry.client.wakeBatch}, default 8; 1 wakes it for every
     * buffer).
     */
    static final int WAKE_BATCH = Math.max(1, Integer.getInteger("ferry.client.wakeBatch", 8));

    /** Buffers returned since the loop was last woken for them. The task's one worker thread only. */
    private int returnedUnwoken;

    /**
     * A worker applied {@code block} (its worker's thread: all of a task's blocks go to one worker). A loop that
     * waits for buffers is woken at once when the worker has none of this task's blocks left to apply (it must not
     * idle: a rate-limited clone starved at 2.9-3.5 MB/s against 4 MB/s when every eighth buffer woke the loop
     * regardless), else once per {@link #WAKE_BATCH} buffers: with many tiny files the worker is the bottleneck and
     * the loop always waits, and a wakeup per file (an eventfd write, an {@code epoll_wait} return and an eventfd
     * read, and a context switch) cost the cores the workers needed. The loop's tick drains returned buffers anyway.
     *
     * @param more whether the worker's next queued block is this task's too.
     */
    void onApplied(final BlockBuffer block, final boolean more)
    {
        done.offer(block);
        run.onAppliedByWorker();
        if (state >= STATE_COMPLETE)
        {
            loop.wakeup();
        }
        else if (waitingForBuffer)
        {
            if (!more || ++returnedUnwoken >= WAKE_BATCH)
            {
                returnedUnwoken = 0;
                loop.wakeup();
            }
        }
    }

    /**
     * After the loop has stopped and the workers are idle: fold every applied block into the clone's applied state
     * without acknowledging it (the restart locator carries it). Driver thread.
     */
    void absorbForRestart()
    {
        drainApplied();
        final Int2IntHashMap.KeyIterator keys = ackBlocks.keySet().iterator();
        while (keys.hasNext())
        {
            final int chunk = keys.nextValue();
            acked.onApplied(chunk, ackBlocks.get(chunk));
        }
        ackBlocks.clear();
    }

    private void drainApplied()
    {
        BlockBuffer b;
        while ((b = done.poll()) != null)
        {
            inFlight--;
            final DescriptorFlyweight d = b.flyweight;
            if (b.error != null && b.error.code() == ErrorCode.CHECKSUM_MISMATCH && run.tornBlocksAllowed())
            {
                // a live change pass: the donor read a region while it was being written (its CRC32C over one read,
                // the bytes from another); not written, counted as applied, and its file compared by the next pass
                run.onTornBlock(d.fileIndex());
                acknowledge(d);
                free.push(b);
                continue;
            }
            if (b.error != null)
            {
                free.push(b);
                if (b.error.code() == ErrorCode.CHECKSUM_MISMATCH)
                {
                    // never written; the chunk's applied prefix stops before it and a restart sends it again
                    poisoned.add(d.dataChunk());
                    run.progress().onCorruptBlock();
                    run.progress().onResent(b.length); // the donor sends it again after the restart
                    run.onNetworkFailure(this, b.error);
                    continue;
                }
                fail(b.error);
                return;
            }
            if (poisoned.contains(d.dataChunk()))
            {
                run.progress().onResent(b.length);
                free.push(b); // written, but after a corrupt block of its chunk: not acknowledged, sent again
                continue;
            }
            // a compressed body holds the mask's pieces: the data bytes are theirs, not the body's
            final int pieces = d.isCompressed() ? (int)DescriptorFlyweight.maskedLength(d.pieceMask(), d.dataLength(),
                DescriptorFlyweight.pieceSize(blockSize)) : b.length;
            run.progress().onBlock(pieces);
            if (d.isCompressed())
            {
                run.progress().onCompressed(pieces, b.length);
            }
            if ((d.dataFlags() & DescriptorFlyweight.DATA_FLAG_SAME) != 0)
            {
                run.progress().onUnchanged(d.dataLength() - pieces);
            }
            else if (run.passStage() == dev.ferry.core.spi.Stage.FILE_COPY)
            {
                // a live clone's later passes see the same holes again: the first pass counts them
                run.progress().onHole(d.dataLength() - pieces);
            }
            acknowledge(d);
            free.push(b);
        }
        if (waitingForBuffer && !free.isEmpty() && !connection.isClosed())
        {
            waitingForBuffer = false;
            connection.resumeReading();
        }
    }

    /**
     * Count block {@code d} as applied: it goes into the next ACK, and ends its file's or chunk's count.
     */
    private void acknowledge(final DescriptorFlyweight d)
    {
        final int chunk = d.dataChunk();
        final int blocks = d.dataBlock() + 1;
        if (acked != null && endsFile(acked.plan(), chunk, d.dataBlock()))
        {
            run.progress().onEntriesDone(1);
        }
        ackBlocks.put(chunk, blocks);
        if (d.isLastInChunk())
        {
            final long start = chunkStart.remove(chunk);
            if (start != -1)
            {
                run.progress().onChunkLatency(System.nanoTime() - start);
            }
        }
    }

    private void flushAcks(final long now, final boolean force)
    {
        if (!ackBatch.due(ackBlocks.size(), now, force))
        {
            return;
        }
        final int n = Math.min(ackBlocks.size(), (scratch.capacity() - AckCodec.ENTRIES_OFFSET) / AckCodec.ENTRY_LENGTH);
        if (!connection.hasRoom(FrameHeader.HEADER_LENGTH + AckCodec.lengthFor(n)))
        {
            return;
        }
        final int at = claim(connection, FrameType.COM_ACK, AckCodec.lengthFor(n));
        final UnsafeBuffer out = connection.sendBuffer();
        AckCodec.putCount(out, at, n);
        int i = 0;
        final Int2IntHashMap.KeyIterator keys = ackBlocks.keySet().iterator();
        while (keys.hasNext() && i < n)
        {
            final int chunk = keys.nextValue();
            final int blocks = ackBlocks.get(chunk);
            AckCodec.putEntry(out, at, i++, chunk, blocks, acked.completes(chunk, blocks) ? AckCodec.FLAG_CHUNK_COMPLETE : 0);
            keys.remove();
            acked.onApplied(chunk, blocks);
        }
        connection.flush();
        ackBatch.sent(now);
    }

    @Override
    public void onWritable(final Connection c)
    {
        if (state == STATE_HAVE)
        {
            pumpHave();
        }
    }

    private void executeMetadataOnly()
    {
        dev.ferry.engine.Trace.mark("COM_EXECUTE for the manifest only");
        final long newerThan = run.hashAheadHint();
        if (newerThan != FileTreeRecipient.NO_HINT && real.protocol() >= ExecuteFlags.HASH_AHEAD_PROTOCOL)
        {
            // an update: the donor may hash the files it will compare while this side merges the manifest
            final int at = claim(connection, FrameType.COM_EXECUTE, ExecuteFlags.LENGTH_HASH_AHEAD);
            connection.sendBuffer().putInt(at, ExecuteFlags.METADATA_ONLY | ExecuteFlags.HASH_AHEAD,
                dev.ferry.core.protocol.Wire.BYTE_ORDER);
            connection.sendBuffer().putLong(at + ExecuteFlags.NEWER_THAN_OFFSET, newerThan,
                dev.ferry.core.protocol.Wire.BYTE_ORDER);
        }
        else
        {
            final int at = claim(connection, FrameType.COM_EXECUTE, ExecuteFlags.LENGTH);
            connection.sendBuffer().putInt(at, ExecuteFlags.METADATA_ONLY, dev.ferry.core.protocol.Wire.BYTE_ORDER);
        }
        connection.flush();
    }

    @Override
    public void onTick(final Connection c, final long now)
    {
        drainApplied();
        if (c.isClosed())
        {
            return;
        }
        final long net = c.bytesIn();
        run.progress().onNetwork(net - lastNetworkBytes);
        lastNetworkBytes = net;
        final FerryException failure = run.failure();
        if (failure != null && state != STATE_DONE && state >= STATE_LOCS)
        {
            sendExit(c, failure.code(), failure.getMessage());
            return;
        }
        if (failure != null || generation != run.generation())
        {
            c.close(ErrorCode.CANCELLED, "clone failed or restarted");
            return;
        }
        if (state == STATE_HAVE)
        {
            pumpHave();
            return;
        }
        if (state == STATE_AWAIT_COPY)
        {
            if (run.copyReady())
            {
                executeMetadataOnly();
                state = STATE_STREAMING;
            }
            return;
        }
        flushAcks(now, state == STATE_COMPLETE && inFlight == 0);
        if (state == STATE_COMPLETE && inFlight == 0 && ackBlocks.isEmpty() && !reportedComplete)
        {
            reportedComplete = true;
            run.onTaskComplete(this);
        }
        if (reportedComplete && run.exitRequested() && state != STATE_DONE)
        {
            sendExit(c, ErrorCode.OK, "");
        }
    }

    /**
     * End the task with COM_EXIT carrying {@code code}: 0 after a complete clone, else the error, so the donor can
     * release the snapshot at once instead of holding it for a restart.
     */
    private void sendExit(final Connection c, final int code, final String message)
    {
        final int max = ErrorCodec.MESSAGE_OFFSET + 2 + ErrorCodec.MAX_MESSAGE_BYTES;
        if (!c.hasRoom(FrameHeader.HEADER_LENGTH + max))
        {
            c.close(ErrorCode.CANCELLED, "clone failed");
            return;
        }
        final int at = claim(c, FrameType.COM_EXIT, max);
        c.commit(at, ErrorCodec.encode(c.sendBuffer(), at, code, message));
        state = STATE_DONE;
        c.closeAfterFlush();
    }

    private void fail(final FerryException ex)
    {
        run.fail(ex);
        final FerryException first = run.failure() != null ? run.failure() : ex; // one story for donor and caller
        if (connection != null && !connection.isClosed())
        {
            if (state >= STATE_LOCS && state != STATE_DONE)
            {
                sendExit(connection, first.code(), first.getMessage());
            }
            else
            {
                connection.close(ex.code(), ex.getMessage());
            }
        }
    }

    @Override
    public void onClose(final Connection c, final int errorCode, String message)
    {
        if (state != STATE_DONE && errorCode != ErrorCode.CANCELLED)
        {
            int code = errorCode == ErrorCode.OK ? ErrorCode.NETWORK : errorCode;
            if (state == STATE_HELLO && (code == ErrorCode.MALFORMED_FRAME || code == ErrorCode.FRAME_TOO_LARGE ||
                code == ErrorCode.UNKNOWN_COMMAND))
            {
                code = ErrorCode.NOT_FERRY;
                message = "the peer at " + c.peer() + " does not speak the Ferry protocol (" + message + ")";
            }
            // a network failure lost the connection; any other code is a frame this side refused and closed on
            final FerryException ex = new FerryException(code, (ErrorCode.isRestartable(code) ?
                "connection " + index + " to the donor was lost: " : "the client closed connection " + index +
                " to the donor: ") + PeerText.escape(message));
            if (ErrorCode.isRestartable(code) && (state >= STATE_LOCS || run.locator() != null))
            {
                run.onNetworkFailure(this, ex);
            }
            else
            {
                run.fail(ex);
            }
        }
        finished = true;
        run.onTaskFinished(this);
    }

    /**
     * @return true if {@code block} of {@code chunk} is the last block of a file (its last segment's last block).
     */
    static boolean endsFile(final dev.ferry.engine.layout.ChunkPlan plan, final int chunk, final int block)
    {
        if (chunk < 0 || chunk >= plan.chunkCount())
        {
            return false;
        }
        final int seg = plan.segmentOf(chunk, block);
        if (block != plan.segmentFirstBlock(seg) + plan.segmentBlocks(seg) - 1)
        {
            return false;
        }
        final int last = plan.chunkCount() - 1;
        final int segments = plan.firstSegment(last) + plan.segmentCount(last);
        return seg + 1 >= segments || plan.segmentFile(seg + 1) != plan.segmentFile(seg);
    }

    /**
     * @return the number of files that carry data in {@code plan}.
     */
    static long filesWithData(final dev.ferry.engine.layout.ChunkPlan plan)
    {
        if (plan.chunkCount() == 0)
        {
            return 0;
        }
        final int last = plan.chunkCount() - 1;
        final int segments = plan.firstSegment(last) + plan.segmentCount(last);
        long files = 0;
        for (int s = 0; s < segments; s++)
        {
            if (s + 1 >= segments || plan.segmentFile(s + 1) != plan.segmentFile(s))
            {
                files++;
            }
        }
        return files;
    }

    int stage()
    {
        return state >= STATE_STREAMING ? Stage.FILE_COPY : Stage.NONE;
    }
}
