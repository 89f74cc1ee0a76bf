package dev.ferry.engine.donor;

import dev.ferry.engine.SharedSecret;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.LinkedHashMap;
import java.util.Map;

import org.agrona.DirectBuffer;

import dev.ferry.core.protocol.AckCodec;
import dev.ferry.core.protocol.AuthCodec;
import dev.ferry.core.protocol.CompleteCodec;
import dev.ferry.core.protocol.ConfigCodec;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.ExecuteFlags;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameHeader;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.QueuedCodec;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.CopyCallback;
import dev.ferry.core.spi.DonorStorage;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.transport.Connection;
import dev.ferry.transport.ConnectionHandler;

/**
 * The donor's side of one connection: a state machine over the remote clone flow.
 * <pre>
 * HELLO --hello--> CLONE --COM_CLONE--> INIT --COM_INIT/ATTACH/REINIT--> (snapshot) --> EXECUTE
 *   --COM_EXECUTE--> STREAMING (COM_RES_DATA_DESC + COM_RES_DATA ..., COM_ACK in) --> COM_RES_COMPLETE --> EXIT
 *   --COM_EXIT--> closed
 * </pre>
 * Any frame out of order, unknown, or malformed is answered with {@code COM_RES_ERROR} and the connection closes;
 * other sessions are unaffected. Loop thread only, except the snapshot, which is taken on a helper thread.
 */
final class DonorSession implements ConnectionHandler, CopyCallback
{
    private static final int STATE_HELLO = 0;
    private static final int STATE_CLONE = 1;
    private static final int STATE_INIT = 2;
    private static final int STATE_SNAPSHOT = 3;
    private static final int STATE_EXECUTE = 4;
    private static final int STATE_STREAMING = 5;
    private static final int STATE_EXIT = 6;
    private static final int STATE_CLOSED = 7;
    private static final int STATE_AUTH = 8;
    private static final int STATE_AUTH_FAILED = 9;
    /** Waiting for the sessions that hold the requested task(s) to close (COM_ATTACH / COM_REINIT). */
    private static final int STATE_HANDOVER = 10;
    /** COM_INIT waits in the donor's queue for a clone slot; COM_RES_QUEUED tells the client where it stands. */
    private static final int STATE_QUEUED = 11;
    private static final long QUEUED_NOTICE_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
    private static final long HANDOVER_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
    private static final long AUTH_FAILURE_DELAY_MS = 1000;
    private static final int PUMPS_PER_CYCLE = 16;
    /**
     * Data bytes one session may offer per duty cycle of its loop, its turn (at least one block always goes): the
     * loop then serves the other sessions before this one goes on, so no clone monopolises a loop however fast its
     * client reads. {@code ferry.donor.turn.bytes}, default 1 MiB.
     */
    static final long TURN_BYTES = Long.getLong("ferry.donor.turn.bytes", 1L << 20);
    /**
     * Blocks one session may have sent and not yet seen acknowledged ({@code ferry.donor.window.blocks}, default
     * 2048; 0: no limit). Socket buffers bound what is in flight in bytes, and tiny files are ~200 bytes each on the
     * wire: without this a connection could hold 40,000 files of backlog in the kernel's buffers when the chunk queue
     * runs dry, and its one apply worker then finished them alone while the others idled (a 300,000-file clone spent
     * its last 6 s so). Large blocks never reach it: 2048 blocks of 1 MiB are 2 GiB.
     */
    static final int WINDOW_BLOCKS = Integer.getInteger("ferry.donor.window.blocks", 2048);

    private final DonorService service;
    private Connection connection;
    private int state = STATE_HELLO;
    private DonorSnapshot clone;
    private Locator locator;
    private int task;
    private long bytesSent;
    /** Blocks sent on this connection, and acknowledged (from the per-chunk counts of COM_ACK): {@link #WINDOW_BLOCKS}. */
    private long blocksSent;
    private long blocksAcked;
    /** Per chunk still incomplete: the leading blocks the client last acknowledged. */
    private final org.agrona.collections.Int2IntHashMap ackedInChunk = new org.agrona.collections.Int2IntHashMap(0);
    private boolean windowFull;
    /** When the session began, or last made progress before its snapshot (a COM_HAVE): the handshake timeout. */
    private long createdNanos = System.nanoTime();
    private byte[] donorNonce;
    private boolean metadataOnly;
    private long clientFeatures;
    private Locator queuedVersion;
    private long lastQueueNotice;
    private int queueChangesSeen;
    private long nextQueueNoticeNanos;
    private DonorSnapshot wanted;
    private Locator wantedLocator;
    private int wantedType;
    /** COM_HAVE frames received before COM_REINIT: installed in the snapshot when the restart is accepted. */
    private dev.ferry.engine.diff.HaveSet pendingHave;
    private long handoverDeadlineNanos;
    private final java.util.List<DonorSession> askedToClose = new java.util.ArrayList<>(0);
    private final dev.ferry.transport.EventLoop loop;
    /** The loop cycle of this session's current turn, and the data bytes offered in it. */
    private long turnCycle = -1;
    private long turnBytes;
    private boolean resumePosted;
    /** Posted to the loop when a turn ended on its budget: pumps again on the next cycle (made once: no allocation). */
    private final Runnable resumeTurn = this::resumeTurn;
    private boolean shuttingDown;
    private boolean notified;
    private long shutdownDeadlineNanos;
    private static final long SHUTDOWN_FLUSH_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);

    DonorSession(final DonorService service, final dev.ferry.transport.EventLoop loop)
    {
        this.service = service;
        this.loop = loop;
    }

    /**
     * The loop this session runs on (final: any thread may read it to hand the session a command).
     */
    dev.ferry.transport.EventLoop loop()
    {
        return loop;
    }

    /**
     * The donor shuts down: stop offering blocks, let the frame or file region in progress finish (up to a second),
     * then send {@code COM_RES_ERROR DONOR_SHUTDOWN} and close. This session's loop thread.
     */
    void shutdown()
    {
        if (connection == null || connection.isClosed() || state == STATE_CLOSED || shuttingDown)
        {
            if (connection != null && !connection.isClosed() && state == STATE_CLOSED)
            {
                connection.close(ErrorCode.DONOR_SHUTDOWN, "the donor is shutting down");
            }
            return;
        }
        shuttingDown = true;
        shutdownDeadlineNanos = System.nanoTime() + SHUTDOWN_FLUSH_NANOS;
        if (connection.isDrained())
        {
            sendShutdown();
        }
    }

    /**
     * Send the notice and keep the connection open: the client closes it when it has read the notice (closing here
     * could reset the connection while the client's ACKs sit unread, and a reset destroys the notice in flight).
     * {@link DonorService#close(java.time.Duration)} closes what is still open after a bound.
     */
    private void sendShutdown()
    {
        final int s = state;
        state = STATE_CLOSED;
        notified = true;
        if (clone != null && s != STATE_CLOSED)
        {
            clone.storage.end(locator, task, ErrorCode.DONOR_SHUTDOWN);
        }
        final String message = "the donor is shutting down";
        final int max = ErrorCodec.MESSAGE_OFFSET + 2 + ErrorCodec.MAX_MESSAGE_BYTES;
        if (!connection.hasRoom(FrameHeader.HEADER_LENGTH + max))
        {
            connection.sendErrorAndClose(FrameType.COM_RES_ERROR, ErrorCode.DONOR_SHUTDOWN, message);
            return;
        }
        final int at = connection.claim(FrameType.COM_RES_ERROR, max);
        connection.commit(at, ErrorCodec.encode(connection.sendBuffer(), at, ErrorCode.DONOR_SHUTDOWN, message));
        connection.flush();
    }

    @Override
    public void onFrame(final Connection c, final int type, final DirectBuffer body, final int offset, final int length)
    {
        connection = c;
        c.errorType(FrameType.COM_RES_ERROR);
        if (notified)
        {
            return; // told DONOR_SHUTDOWN: what the client still sends (ACKs in flight) no longer matters
        }
        try
        {
            handle(type, body, offset, length);
        }
        catch (final FerryException ex)
        {
            fail(ex.code(), ex.getMessage());
        }
        catch (final RuntimeException ex)
        {
            fail(ErrorCode.INTERNAL, "donor failed: " + ex);
        }
        catch (final Error ex)
        {
            // out of heap in this session: it ends, its memory with it; the donor serves the others
            fail(ErrorCode.INTERNAL, dev.ferry.engine.FatalErrors.failure(ex, "donor failed").getMessage());
        }
    }

    private void handle(final int type, final DirectBuffer body, final int offset, final int length)
    {
        switch (type)
        {
            case FrameType.HELLO:
                expect(STATE_HELLO, type);
                if (HelloCodec.role(body, offset) != HelloCodec.ROLE_CLIENT)
                {
                    throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "a donor only talks to clients");
                }
                FileTreeDonor.negotiate(service.options().protocolMin(), service.options().protocolMax(),
                    HelloCodec.protocolMin(body, offset), HelloCodec.protocolMax(body, offset));
                clientFeatures = HelloCodec.features(body, offset);
                sendHello();
                if (service.options().secret() != null)
                {
                    donorNonce = service.options().secret().nonce();
                    final int at = claim(FrameType.AUTH_CHALLENGE, AuthCodec.LENGTH);
                    AuthCodec.encode(connection.sendBuffer(), at, donorNonce, null);
                    connection.flush();
                    state = STATE_AUTH;
                }
                else
                {
                    state = STATE_CLONE;
                }
                break;

            case FrameType.AUTH_RESPONSE:
            {
                expect(STATE_AUTH, type);
                final SharedSecret secret = service.options().secret();
                final byte[] clientNonce = AuthCodec.nonce(body, offset);
                if (!SharedSecret.matches(secret.clientProof(donorNonce, clientNonce), AuthCodec.proof(body, offset)))
                {
                    failAuthLater();
                    break;
                }
                final int at = claim(FrameType.AUTH_OK, AuthCodec.LENGTH);
                AuthCodec.encode(connection.sendBuffer(), at, new byte[AuthCodec.FIELD_LENGTH],
                    secret.donorProof(donorNonce, clientNonce));
                connection.flush();
                state = STATE_CLONE;
                break;
            }

            case FrameType.COM_CLONE:
                if (state == STATE_AUTH)
                {
                    throw new FerryException(ErrorCode.AUTH_FAILED, "this donor requires authentication before COM_CLONE");
                }
                expect(STATE_CLONE, type);
                state = STATE_INIT;
                break;

            case FrameType.COM_INIT:
            {
                expect(STATE_INIT, type);
                final Locator version = LocatorCodec.decode(body, offset);
                final boolean canQueue = (clientFeatures & HelloCodec.FEATURE_QUEUE) != 0;
                final int place = service.requestClone(this, canQueue);
                if (place == DonorService.REFUSED)
                {
                    throw new FerryException(ErrorCode.TOO_MANY_CLONES, service.refusal(canQueue));
                }
                if (place == DonorService.ADMITTED)
                {
                    startSnapshot(version);
                }
                else
                {
                    state = STATE_QUEUED;
                    queuedVersion = version;
                    sendQueued(System.nanoTime());
                }
                break;
            }

            case FrameType.COM_HAVE:
                expect(STATE_INIT, type);
                if (pendingHave == null)
                {
                    pendingHave = new dev.ferry.engine.diff.HaveSet(service.maxHavePieces());
                }
                pendingHave.add(body, offset);
                if (firstHaveNanos == 0)
                {
                    firstHaveNanos = System.nanoTime();
                }
                createdNanos = System.nanoTime(); // a long list is progress, not a stalled handshake
                break;

            case FrameType.COM_ATTACH:
            case FrameType.COM_REINIT:
            {
                expect(STATE_INIT, type);
                if (type == FrameType.COM_ATTACH && pendingHave != null)
                {
                    throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "COM_HAVE belongs before COM_REINIT, not " +
                        "COM_ATTACH");
                }
                final Locator requested = LocatorCodec.decode(body, offset);
                final DonorSnapshot c = service.clone(requested.snapshotId());
                if (c == null || c.isFinished())
                {
                    final String ended = service.endedWith(requested.snapshotId());
                    throw new FerryException(ErrorCode.UNKNOWN_SNAPSHOT, ended != null ? "snapshot " +
                        Long.toHexString(requested.snapshotId()) + " has ended with " + ended :
                        "this donor holds no snapshot " + Long.toHexString(requested.snapshotId()) +
                        " (it may have expired or the donor restarted)");
                }
                if (type == FrameType.COM_ATTACH &&
                    (requested.taskIndex() < 1 || requested.taskIndex() >= LocatorCodec.MAX_TASKS))
                {
                    throw new FerryException(ErrorCode.BAD_LOCATOR, "task index " + requested.taskIndex() +
                        " out of range 1.." + (LocatorCodec.MAX_TASKS - 1));
                }
                wanted = c;
                wantedLocator = requested;
                wantedType = type;
                handoverDeadlineNanos = System.nanoTime() + HANDOVER_NANOS;
                state = STATE_HANDOVER;
                connection.pauseReading();
                takeOver();
                break;
            }

            case FrameType.COM_EXECUTE:
            {
                expect(STATE_EXECUTE, type);
                final int flags = length >= ExecuteFlags.LENGTH ? body.getInt(offset, Wire.BYTE_ORDER) : 0;
                metadataOnly = (flags & ExecuteFlags.METADATA_ONLY) != 0;
                if ((flags & ExecuteFlags.HASH_AHEAD) != 0)
                {
                    if (locator.protocol() < ExecuteFlags.HASH_AHEAD_PROTOCOL)
                    {
                        throw new FerryException(ErrorCode.MALFORMED_FRAME, "COM_EXECUTE flag HASH_AHEAD needs protocol " +
                            ExecuteFlags.HASH_AHEAD_PROTOCOL + ", this session speaks " + locator.protocol());
                    }
                    clone.storage.hashAhead(locator, body.getLong(offset + ExecuteFlags.NEWER_THAN_OFFSET,
                        Wire.BYTE_ORDER));
                }
                if ((flags & ExecuteFlags.LIVE) != 0)
                {
                    connection.padShortRegions(true); // a file truncated mid-send: zeros, and the next pass fixes it
                }
                clone.storage.execute(locator, task, flags);
                if (clone.frozen != null && !metadataOnly && !readingFrozen)
                {
                    readingFrozen = true; // before this session reserves any chunk of the frozen pass
                    clone.frozenReaders.incrementAndGet();
                }
                state = STATE_STREAMING;
                pump();
                break;
            }

            case FrameType.COM_ACK:
                if (state != STATE_STREAMING && state != STATE_EXIT)
                {
                    throw unexpected(type);
                }
                for (int i = 0, n = AckCodec.count(body, offset); i < n; i++)
                {
                    final int chunk = AckCodec.chunk(body, offset, i);
                    final int blocks = AckCodec.blocks(body, offset, i);
                    final boolean complete = (AckCodec.flags(body, offset, i) & AckCodec.FLAG_CHUNK_COMPLETE) != 0;
                    clone.storage.ack(locator, task, chunk, blocks, complete);
                    onAcknowledged(chunk, blocks, complete);
                }
                if (windowFull && state == STATE_STREAMING && blocksSent - blocksAcked < WINDOW_BLOCKS)
                {
                    windowFull = false;
                    pump();
                }
                break;

            case FrameType.COM_EXIT:
            {
                final int code = ErrorCodec.code(body, offset);
                if (clone != null)
                {
                    clone.storage.end(locator, task, code);
                    if (task == 0 && code == ErrorCode.OK && state == STATE_EXIT && !metadataOnly ||
                        code != ErrorCode.OK && !ErrorCode.isRestartable(code))
                    {
                        service.finishClone(clone, code, code == ErrorCode.OK ? "complete" : ErrorCodec.printableMessage(body, offset));
                    }
                    else if (code != ErrorCode.OK)
                    {
                        service.thawIfHeld(clone, "the client stopped during the freeze");
                    }
                }
                state = STATE_CLOSED;
                connection.closeAfterFlush();
                break;
            }

            default:
                throw unexpected(type);
        }
    }

    /**
     * A wrong proof is answered only after a delay, so guessing the secret online is slow; the attempt is logged.
     */
    private void failAuthLater()
    {
        state = STATE_AUTH_FAILED;
        connection.pauseReading();
        final Connection c = connection;
        service.options().log().onError(new FerryException(ErrorCode.AUTH_FAILED, "failed authentication from " +
            c.peer()));
        service.helper().schedule(() -> c.loop().execute(() ->
        {
            if (!c.isClosed())
            {
                fail(ErrorCode.AUTH_FAILED, "authentication failed: the client does not know this donor's secret");
            }
        }), AUTH_FAILURE_DELAY_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private void expect(final int expected, final int type)
    {
        if (state != expected)
        {
            throw unexpected(type);
        }
    }

    private FerryException unexpected(final int type)
    {
        return new FerryException(ErrorCode.UNEXPECTED_COMMAND, FrameType.name(type) + " is not allowed now " +
            "(session state " + state + ")");
    }

    /**
     * Claim room for a control frame in the connection's send buffer, which is sized to hold every control frame;
     * a claim that fails anyway (the connection is closing, or a region is still pending) never becomes an index.
     *
     * @return the body's offset in the send buffer.
     * @throws FerryException (INTERNAL) if there is no room: the caller's session fails.
     */
    private int claim(final int type, final int bodyLength)
    {
        final int at = connection.claim(type, bodyLength);
        if (at < 0)
        {
            throw noRoom(type, bodyLength);
        }
        return at;
    }

    private FerryException noRoom(final int type, final int bodyLength)
    {
        return new FerryException(ErrorCode.INTERNAL, "no room to send " + FrameType.name(type) + " (" + bodyLength +
            " bytes) to " + connection.peer());
    }

    private void sendHello()
    {
        final int at = claim(FrameType.HELLO, HelloCodec.MAX_LENGTH);
        final int len = HelloCodec.encode(connection.sendBuffer(), at, service.options().protocolMin(),
            service.options().protocolMax(), HelloCodec.ROLE_DONOR,
            HelloCodec.FEATURE_CRC32C | HelloCodec.FEATURE_RESTART |
            (service.options().secret() != null ? HelloCodec.FEATURE_AUTH_REQUIRED : 0) |
            (connection.isTls() ? HelloCodec.FEATURE_TLS : 0), "ferry");
        connection.commit(at, len);
        connection.flush();
    }

    /**
     * A slot freed and this queued session is next: take the snapshot, or give the slot back if the client has gone.
     * This session's loop thread ({@link DonorService#admitWaiting} hands it over).
     */
    void admitted()
    {
        if (state != STATE_QUEUED || connection == null || connection.isClosed() || shuttingDown)
        {
            service.releaseReservation();
            return;
        }
        startSnapshot(queuedVersion);
    }

    /**
     * Tell the queued client its place: at once when it changed, else once a second (it also keeps the client's read
     * timeout from firing while it waits).
     */
    private void sendQueued(final long nowNanos)
    {
        final long place = service.queuePosition(this);
        if (place == 0)
        {
            return; // admitted meanwhile: COM_RES_LOCS follows
        }
        queueChangesSeen = service.queueChanges();
        if (place == lastQueueNotice && nowNanos - nextQueueNoticeNanos < 0)
        {
            return;
        }
        if (!connection.hasRoom(FrameHeader.HEADER_LENGTH + QueuedCodec.LENGTH))
        {
            return; // the client does not read; its read timeout or ours ends it
        }
        final int at = claim(FrameType.COM_RES_QUEUED, QueuedCodec.LENGTH);
        QueuedCodec.encode(connection.sendBuffer(), at, (int)(place >>> 32), (int)place, service.cloneCount());
        connection.flush();
        lastQueueNotice = place;
        nextQueueNoticeNanos = nowNanos + QUEUED_NOTICE_NANOS;
    }

    private void startSnapshot(final Locator version)
    {
        state = STATE_SNAPSHOT;
        connection.pauseReading();
        final Connection c = connection;
        service.scanThreads().execute(() ->
        {
            DonorSnapshot created = null;
            FerryException failure = null;
            boolean slotReserved = true;
            try
            {
                final FileTreeDonor storage = new FileTreeDonor(service.root(), service.options().settings(),
                    service.options().protocolMin(), service.options().protocolMax()).shareScans(service.scans());
                FreezeHooks.Frozen frozen = null;
                if (version.stage() == Stage.FREEZE)
                {
                    // a live clone's last pass: hold the dataset still, then take the snapshot inside the freeze
                    if (!service.hooks().enabled())
                    {
                        throw new FerryException(ErrorCode.CONFIG_MISMATCH, "a frozen pass was asked for, but this " +
                            "donor has no --freeze-cmd");
                    }
                    final long id = FileTreeDonor.newSnapshotId();
                    storage.presetSnapshotId(id);
                    frozen = service.hooks().freeze(service.root(), id, String.valueOf(c.peer()), service.helper(),
                        service.logger());
                }
                final Locator real;
                try
                {
                    real = storage.begin(CloneMode.START, version);
                }
                catch (final RuntimeException ex)
                {
                    if (frozen != null)
                    {
                        frozen.thaw();
                    }
                    throw ex;
                }
                final DonorSnapshot snapshot = new DonorSnapshot(storage, real, this, service.newCloneThrottle());
                snapshot.frozen = frozen;
                snapshot.markFrozen(DonorSnapshot.FROZEN_SCANNED, System.nanoTime());
                slotReserved = false; // addClone takes the reservation, whether it adds the clone or refuses it
                service.addClone(snapshot);
                created = snapshot;
            }
            catch (final FerryException ex)
            {
                failure = ex;
            }
            catch (final RuntimeException | Error ex)
            {
                // an Error too (a tree too large for the donor's heap): the client is told, the donor goes on
                failure = dev.ferry.engine.FatalErrors.failure(ex, "snapshot failed");
            }
            if (slotReserved)
            {
                service.releaseReservation();
            }
            final DonorSnapshot done = created;
            final FerryException error = failure;
            c.loop().execute(() -> onSnapshot(done, error));
        });
    }

    private void onSnapshot(final DonorSnapshot created, final FerryException error)
    {
        if (connection.isClosed())
        {
            if (created != null)
            {
                service.finishClone(created, ErrorCode.NETWORK, "the client left before it learnt the snapshot");
                service.releaseSession(created, this);
            }
            return;
        }
        if (error != null)
        {
            fail(error.code(), error.getMessage());
            return;
        }
        attach(created, created.locator);
        created.client = String.valueOf(connection.peer());
        service.cloneStarted(created);
        try
        {
            sendLocatorAndConfig();
        }
        catch (final FerryException ex)
        {
            fail(ex.code(), ex.getMessage());
            return;
        }
        state = STATE_EXECUTE;
        connection.resumeReading();
    }

    /**
     * COM_ATTACH / COM_REINIT: claim the task (COM_REINIT: every task, since the chunk queue is rebuilt) once no other
     * live session holds it. A COM_REINIT asks the holders to close (each on its own loop thread, where its cursor is
     * ended) and retries on every tick; a COM_ATTACH of a task another live session serves is refused (a client's
     * own restart always comes through COM_REINIT first). A refused session never touches the snapshot.
     */
    private void takeOver()
    {
        final boolean reinit = wantedType == FrameType.COM_REINIT;
        final int wantedTask = reinit ? 0 : wantedLocator.taskIndex();
        final java.util.List<DonorSession> holders = wanted.claim(this, wantedTask, reinit);
        if (holders == null)
        {
            throw new FerryException(ErrorCode.UNKNOWN_SNAPSHOT, "snapshot " +
                Long.toHexString(wanted.snapshotId()) + " has ended");
        }
        if (!holders.isEmpty())
        {
            if (!reinit)
            {
                throw new FerryException(ErrorCode.BAD_LOCATOR, "task " + wantedTask + " of snapshot " +
                    Long.toHexString(wanted.snapshotId()) + " is served by another live session");
            }
            for (final DonorSession h : holders)
            {
                if (!askedToClose.contains(h))
                {
                    askedToClose.add(h);
                    h.connection.loop().execute(h::supersede);
                }
            }
            return;
        }
        final DonorSnapshot c = wanted;
        final Locator real;
        try
        {
            if (reinit && pendingHave != null && c.storage instanceof FileTreeDonor)
            {
                // what the recipient has replaces what an earlier COM_REINIT said; cursors made from now on use it
                final FileTreeDonor f = (FileTreeDonor)c.storage;
                f.have(pendingHave.fitTo(f::piecesOf));
                pendingHave = null;
            }
            real = c.storage.begin(reinit ? CloneMode.RESTART : CloneMode.ATTACH, wantedLocator);
        }
        catch (final RuntimeException ex)
        {
            service.releaseSession(c, this); // a bad locator does not end the snapshot for its rightful client
            throw ex;
        }
        wanted = null;
        askedToClose.clear();
        if (reinit)
        {
            if (firstHaveNanos != 0)
            {
                c.markFrozen(DonorSnapshot.FROZEN_FIRST_HAVE, firstHaveNanos);
            }
            c.markFrozen(DonorSnapshot.FROZEN_RESTARTED, System.nanoTime());
        }
        attach(c, real);
        sendLocatorAndConfig();
        state = STATE_EXECUTE;
        connection.resumeReading();
    }

    /**
     * Another session took over this session's task (a COM_REINIT after a network failure that this side has not
     * noticed yet). Runs on this session's loop thread: the cursor is ended here, by the only thread that uses it,
     * and the connection is dropped like a network failure, so a client that is in fact alive reconnects.
     */
    void supersede()
    {
        if (state == STATE_CLOSED || connection.isClosed())
        {
            return;
        }
        state = STATE_CLOSED;
        clone.storage.end(locator, task, ErrorCode.NETWORK);
        service.options().log().onError(new FerryException(ErrorCode.CANCELLED, "session with " + connection.peer() +
            " for task " + task + " of snapshot " + Long.toHexString(clone.snapshotId()) +
            " closed: a new session took the snapshot over"));
        connection.close(ErrorCode.NETWORK, "superseded by a new session for the same snapshot");
    }

    private void attach(final DonorSnapshot c, final Locator real)
    {
        clone = c;
        locator = real;
        task = real.taskIndex();
        connection.throttle(c.throttle);
    }

    private void sendLocatorAndConfig()
    {
        final int at = claim(FrameType.COM_RES_LOCS, LocatorCodec.encodedLength(locator));
        LocatorCodec.encode(connection.sendBuffer(), at, locator);
        final Map<String, String> config = new LinkedHashMap<>();
        config.put("engine", "file-tree");
        config.put("format", "1");
        config.put("block_size", String.valueOf(service.options().settings().blockSize()));
        config.put("chunk_size", String.valueOf(service.options().settings().chunkSize()));
        config.put("files_per_chunk", String.valueOf(service.options().settings().filesPerChunk()));
        config.put("checksum", service.options().settings().checksum() ? "crc32c" : "none");
        config.put("restart_window_ms", String.valueOf(service.options().restartWindowMs()));
        config.put("software", "ferry");
        if (service.hooks().enabled())
        {
            config.put("freeze", "1"); // a live clone may ask for a frozen last pass
        }
        final org.agrona.concurrent.UnsafeBuffer scratch = new org.agrona.concurrent.UnsafeBuffer(new byte[4096]);
        final int len = ConfigCodec.encode(scratch, 0, config);
        if (!connection.send(FrameType.COM_RES_CONFIG, scratch, 0, len))
        {
            throw noRoom(FrameType.COM_RES_CONFIG, len);
        }
        connection.flush();
    }

    /**
     * Offer data until the socket is full or the task is done.
     */
    private void pump()
    {
        final long cycle = loop.cycle();
        if (cycle != turnCycle)
        {
            turnCycle = cycle;
            turnBytes = 0;
        }
        for (int i = 0; i < PUMPS_PER_CYCLE && state == STATE_STREAMING && !shuttingDown && !connection.isClosed(); i++)
        {
            if (turnBytes >= TURN_BYTES)
            {
                // this turn is used up: the others on the loop go first; the next cycle goes on (no select wait)
                if (!resumePosted)
                {
                    resumePosted = true;
                    loop.execute(resumeTurn);
                }
                return;
            }
            if (!connection.isDrained())
            {
                connection.flush();
                if (!connection.isDrained())
                {
                    return;
                }
            }
            if (windowShut())
            {
                return;
            }
            final int result;
            try
            {
                result = clone.storage.copy(locator, task, this);
            }
            catch (final FerryException ex)
            {
                fail(ex.code(), ex.getMessage());
                return;
            }
            connection.flush();
            if (result == DonorStorage.COPY_DONE)
            {
                if (!connection.hasRoom(FrameHeader.HEADER_LENGTH + CompleteCodec.LENGTH))
                {
                    return;
                }
                final int at = connection.claim(FrameType.COM_RES_COMPLETE, CompleteCodec.LENGTH);
                if (at < 0)
                {
                    final FerryException ex = noRoom(FrameType.COM_RES_COMPLETE, CompleteCodec.LENGTH);
                    fail(ex.code(), ex.getMessage());
                    return;
                }
                // the frozen pass's reads are done when its last reader gets here: the dataset is let go then, before
                // the client has it all
                long held = 0;
                if (metadataOnly)
                {
                    clone.markFrozen(DonorSnapshot.FROZEN_MANIFEST_SENT, System.nanoTime());
                }
                if (readingFrozen)
                {
                    readingFrozen = false;
                    if (clone.frozenReaders.decrementAndGet() == 0)
                    {
                        // a worker that attached after the thaw finds nothing to read: the timeline is logged once
                        final boolean first = !clone.frozen.isThawed();
                        held = clone.frozen.thaw();
                        if (first)
                        {
                            service.logger().log(System.Logger.Level.INFO, "frozen pass of snapshot " +
                                Long.toHexString(clone.snapshotId()) + ": thawed after " + held / 1_000_000 + " ms (" +
                                clone.frozenTimeline() + ")");
                        }
                    }
                }
                final long changed = clone.storage instanceof FileTreeDonor ?
                    ((FileTreeDonor)clone.storage).changedFiles(locator, task) : 0;
                CompleteCodec.encode(connection.sendBuffer(), at, metadataOnly ? Stage.METADATA : Stage.FILE_COPY, task,
                    bytesSent, changed, held);
                connection.flush();
                state = STATE_EXIT;
                return;
            }
        }
    }

    /**
     * Count what a COM_ACK entry acknowledges beyond the chunk's previous count. A restart's first count of a chunk
     * it resumed mid-way includes blocks an earlier connection sent: the window then opens a little early, never late.
     */
    private void onAcknowledged(final int chunk, final int blocks, final boolean complete)
    {
        final int before = ackedInChunk.get(chunk);
        if (blocks > before)
        {
            blocksAcked += blocks - before;
        }
        if (complete)
        {
            ackedInChunk.remove(chunk);
        }
        else if (blocks > before)
        {
            ackedInChunk.put(chunk, blocks);
        }
    }

    /** When this session received its first COM_HAVE (0: none), for a frozen pass's timeline. */
    private long firstHaveNanos;

    /** This session counts in its snapshot's {@link DonorSnapshot#frozenReaders}. Loop thread. */
    private boolean readingFrozen;

    private void resumeTurn()
    {
        resumePosted = false;
        if (state == STATE_STREAMING && connection != null && !connection.isClosed() && connection.isDrained())
        {
            pump();
        }
    }

    /**
     * @return whether {@link #WINDOW_BLOCKS} blocks are unacknowledged: the block waits (and the next COM_ACK that
     *     opens the window pumps again).
     */
    private boolean windowShut()
    {
        if (WINDOW_BLOCKS > 0 && blocksSent - blocksAcked >= WINDOW_BLOCKS)
        {
            windowFull = true;
            return true;
        }
        return false;
    }

    @Override
    public boolean onDescriptor(final DirectBuffer d, final int offset, final int length)
    {
        return connection.send(FrameType.COM_RES_DATA_DESC, d, offset, length);
    }

    @Override
    public boolean onFileRegion(
        final DirectBuffer d, final int offset, final int length, final FileChannel channel, final long position,
        final int count)
    {
        if (!connection.hasRoom(2 * FrameHeader.HEADER_LENGTH + length) || windowShut())
        {
            return false;
        }
        connection.send(FrameType.COM_RES_DATA_DESC, d, offset, length);
        connection.sendRegion(FrameType.COM_RES_DATA, channel, position, count);
        blocksSent++;
        bytesSent += count;
        turnBytes += count;
        clone.bytesSent.addAndGet(count);
        service.addBytesSent(count);
        return true;
    }

    @Override
    public boolean onBuffer(
        final DirectBuffer d, final int offset, final int length, final DirectBuffer data, final int dataOffset,
        final int dataLength)
    {
        if (!connection.hasRoom(2 * FrameHeader.HEADER_LENGTH + length + dataLength) || windowShut())
        {
            return false;
        }
        connection.send(FrameType.COM_RES_DATA_DESC, d, offset, length);
        connection.send(FrameType.COM_RES_DATA, data, dataOffset, dataLength);
        blocksSent++;
        bytesSent += dataLength;
        turnBytes += dataLength;
        clone.bytesSent.addAndGet(dataLength);
        service.addBytesSent(dataLength);
        return true;
    }

    @Override
    public ByteBuffer acquireBody(final Connection c, final int length)
    {
        connection = c;
        fail(ErrorCode.UNEXPECTED_COMMAND, "a client may not send data frames");
        return null;
    }

    @Override
    public void onBody(final Connection c, final ByteBuffer body, final int length)
    {
        // never acquired
    }

    @Override
    public void onWritable(final Connection c)
    {
        connection = c;
        if (state == STATE_STREAMING)
        {
            pump();
        }
    }

    @Override
    public void onTick(final Connection c, final long nowNanos)
    {
        connection = c;
        if (shuttingDown)
        {
            if (state != STATE_CLOSED && (c.isDrained() || nowNanos - shutdownDeadlineNanos > 0))
            {
                sendShutdown();
            }
            return;
        }
        if ((state < STATE_SNAPSHOT || state == STATE_AUTH) && nowNanos - createdNanos > service.handshakeTimeoutNanos())
        {
            fail(ErrorCode.TIMEOUT, "the session did not reach COM_INIT/COM_ATTACH within " +
                java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(service.handshakeTimeoutNanos()) + " ms");
            return;
        }
        if (state == STATE_QUEUED)
        {
            if (nowNanos - nextQueueNoticeNanos >= 0 || service.queueChanges() != queueChangesSeen)
            {
                sendQueued(nowNanos);
            }
            return;
        }
        if (state == STATE_HANDOVER)
        {
            if (nowNanos - handoverDeadlineNanos > 0)
            {
                fail(ErrorCode.TIMEOUT, "the sessions serving snapshot " + Long.toHexString(wanted.snapshotId()) +
                    " did not close within " + java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(HANDOVER_NANOS) + " ms");
                return;
            }
            try
            {
                takeOver();
            }
            catch (final FerryException ex)
            {
                fail(ex.code(), ex.getMessage());
            }
            return;
        }
        if (state == STATE_STREAMING && c.isDrained())
        {
            pump();
        }
    }

    private void fail(final int code, final String message)
    {
        final int s = state;
        state = STATE_CLOSED;
        if (clone != null && s != STATE_CLOSED)
        {
            clone.storage.end(locator, task, code);
            if (!ErrorCode.isRestartable(code))
            {
                service.finishClone(clone, code, message);
            }
        }
        service.options().log().onError(new FerryException(code, "session with " + connection.peer() + ": " + message));
        connection.sendErrorAndClose(FrameType.COM_RES_ERROR, code, message);
    }

    @Override
    public void onClose(final Connection c, final int errorCode, final String message)
    {
        service.onSessionClosed(this);
        if (state == STATE_QUEUED || queuedVersion != null && clone == null)
        {
            service.leaveQueue(this);
        }
        if (clone != null)
        {
            if (state != STATE_CLOSED)
            {
                clone.storage.end(locator, task, errorCode == ErrorCode.OK ? ErrorCode.NETWORK : errorCode);
                if (errorCode != ErrorCode.OK && !ErrorCode.isRestartable(errorCode))
                {
                    // a malformed frame from the client: it will not come back for this snapshot
                    service.finishClone(clone, errorCode, message);
                }
                // cut during a frozen pass: let the dataset go now rather than after the restart window
                service.thawIfHeld(clone, "the connection was lost during the freeze");
            }
            service.releaseSession(clone, this);
        }
        else if (wanted != null)
        {
            service.releaseSession(wanted, this);
        }
        state = STATE_CLOSED;
    }
}
