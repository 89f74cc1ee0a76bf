package dev.ferry.engine.donor;

import dev.ferry.engine.EndpointOptions;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.NoOpIdleStrategy;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.Wire;
import dev.ferry.engine.TlsHints;
import dev.ferry.engine.ValidatingHandler;
import dev.ferry.transport.Acceptor;
import dev.ferry.transport.Connection;
import dev.ferry.transport.EventLoop;
import dev.ferry.transport.TokenBucket;
import dev.ferry.transport.TransportSettings;

/**
 * A donor: serves one directory to any number of clients over TCP, each clone with its own snapshot. Embeddable:
 * {@link #start()} returns once it listens; {@link #close()} stops everything. No global state, no logging: events
 * a person should see go to the {@link ErrorHandler} given in the options.
 * <p>
 * Threads: {@code loops} event loops (the first also accepts); snapshots are taken on scan threads (one per snapshot
 * being taken, at most the clone slots) so heartbeats keep flowing while a large tree is scanned, and clones whose
 * scans overlap share one ({@link SharedScans}); a helper thread runs the timers.
 */
public final class DonorService implements AutoCloseable
{
    /**
     * Options of a donor. Chained setters.
     */
    public static final class Options extends EndpointOptions<Options>
    {
        @Override
        protected Options self()
        {
            return this;
        }

        public static final long RESTART_WINDOW_DEFAULT_MS = TimeUnit.MINUTES.toMillis(5);

        private int loops = Math.min(2, Runtime.getRuntime().availableProcessors());
        private int maxClones = 8;
        private int maxQueued = MAX_QUEUED_DEFAULT;
        private int maxConnections = 256;
        private long restartWindowMs = RESTART_WINDOW_DEFAULT_MS;
        private ErrorHandler log = ex -> { };
        private System.Logger logger = System.getLogger("dev.ferry.donor");
        private long handshakeTimeoutMs = 10_000;
        private long maxRate = TokenBucket.UNLIMITED;
        private long maxTotalRate = TokenBucket.UNLIMITED;
        private String freezeCmd;
        private String thawCmd;
        private long freezeTimeoutMs = 30_000;

        /**
         * The command that holds the dataset still for a live clone's last pass ({@code --freeze-cmd}), run with
         * {@code /bin/sh -c}; null (the default) for none: clients then converge without a freeze.
         */
        public Options freezeCmd(final String v)
        {
            freezeCmd = v;
            return this;
        }

        /**
         * The command that lets the dataset go on after the freeze ({@code --thaw-cmd}); runs exactly once after
         * every freeze that succeeded.
         */
        public Options thawCmd(final String v)
        {
            thawCmd = v;
            return this;
        }

        /**
         * How long the freeze command may run before the clone fails with HOOK_FAILED ({@code --freeze-timeout}).
         */
        public Options freezeTimeoutMs(final long v)
        {
            if (v <= 0)
            {
                throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the freeze timeout must be positive, got " + v);
            }
            freezeTimeoutMs = v;
            return this;
        }



        /**
         * A connection must get from its first byte to COM_INIT/COM_ATTACH/COM_REINIT within this time (slow or idle
         * peers are dropped so they cannot hold connection slots).
         */
        public Options handshakeTimeoutMs(final long v)
        {
            handshakeTimeoutMs = v;
            return this;
        }



        public Options loops(final int v)
        {
            loops = v;
            return this;
        }

        /**
         * Cap each clone at this many bytes per second, all its connections together ({@link TokenBucket}: burst of
         * 200 ms of the rate); 0 (the default) for no limit. {@link DonorService#setMaxRate} changes it while running.
         */
        public Options maxRate(final long bytesPerSecond)
        {
            maxRate = bytesPerSecond;
            return this;
        }

        /**
         * Cap the whole donor, every clone together, at this many bytes per second; 0 (the default) for no limit.
         * {@link DonorService#setMaxTotalRate} changes it while running.
         */
        public Options maxTotalRate(final long bytesPerSecond)
        {
            maxTotalRate = bytesPerSecond;
            return this;
        }

        public Options maxClones(final int v)
        {
            maxClones = v;
            return this;
        }

        /** Default of {@link #maxQueued}. */
        public static final int MAX_QUEUED_DEFAULT = 64;

        /**
         * Clones that wait in a queue, first come first served, while {@link #maxClones} are served
         * ({@code --max-queued}, default {@value #MAX_QUEUED_DEFAULT}); a COM_INIT beyond it, or from a client that
         * does not announce {@code FEATURE_QUEUE}, is refused with {@code TOO_MANY_CLONES}. 0: no queue.
         */
        public Options maxQueued(final int v)
        {
            maxQueued = v;
            return this;
        }

        public Options maxConnections(final int v)
        {
            maxConnections = v;
            return this;
        }

        public Options restartWindowMs(final long v)
        {
            restartWindowMs = v;
            return this;
        }


        /**
         * Where the one line per clone goes (start: client, snapshot, entries, bytes; end: result, bytes, rate), at
         * {@code INFO}. Default: {@code System.getLogger("dev.ferry.donor")}, which the application configures.
         */
        public Options logger(final System.Logger v)
        {
            logger = v;
            return this;
        }

        /**
         * Where notable events (refused clients, failed clones) are reported. Default: dropped.
         */
        public Options log(final ErrorHandler v)
        {
            log = v;
            return this;
        }





        long restartWindowMs()
        {
            return restartWindowMs;
        }

        int maxClones()
        {
            return maxClones;
        }

        int maxQueued()
        {
            return maxQueued;
        }

        ErrorHandler log()
        {
            return log;
        }
    }

    private final Path root;
    private final InetSocketAddress listen;
    private final Options options;
    private static final int ENDED_REMEMBERED = 256;
    private final Map<Long, String> endedWith = new java.util.LinkedHashMap<>(16, 0.75f, false)
    {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(final Map.Entry<Long, String> eldest)
        {
            return size() > ENDED_REMEMBERED;
        }
    };
    private final Map<Long, DonorSnapshot> clones = new ConcurrentHashMap<>();
    /** COM_INITs waiting for a clone slot, oldest first; guarded by this service's monitor. */
    private final java.util.ArrayDeque<DonorSession> waiting = new java.util.ArrayDeque<>();
    /** Slots given to sessions whose snapshot is being taken (not yet in {@link #clones}); guarded by this. */
    private int reserved;
    /** Changes whenever the queue does, so waiting sessions tell their clients their new position at once. */
    private volatile int queueChanges;
    /**
     * A snapshot no session has served for this long (its client died, or is slow to come back) no longer holds a
     * slot against a waiting or new clone; a client that reconnects within it keeps its slot.
     */
    static final long IDLE_SLOT_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger nextLoop = new AtomicInteger();
    private final AtomicLong bytesSent = new AtomicLong();
    private final List<EventLoop> loops = new ArrayList<>();
    private final List<AgentRunner> runners = new ArrayList<>();
    private final java.util.Set<DonorSession> sessions = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;
    private ScheduledThreadPoolExecutor helper;
    /** Where snapshots are taken: a thread per snapshot in the making, bounded by the clone slots. */
    private java.util.concurrent.ExecutorService scanThreads;
    private final SharedScans scans = new SharedScans();
    private FreezeHooks hooks;
    private Acceptor acceptor;
    private InetSocketAddress bound;
    private TokenBucket totalRate;
    private volatile long cloneRate;

    /**
     * @param root    the directory to serve.
     * @param listen  the address to listen on (port 0: any free port, see {@link #address()}).
     * @param options the donor's options; not to be changed once started.
     * @throws FerryException naming {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} if the JVM lacks it.
     */
    public DonorService(final Path root, final InetSocketAddress listen, final Options options)
    {
        dev.ferry.engine.recipient.JvmAccess.check();
        this.root = root.toAbsolutePath().normalize();
        this.listen = listen;
        this.options = options;
    }

    /**
     * Bind and start serving.
     *
     * @return this.
     * @throws FerryException if the root is not a directory or the address cannot be bound.
     */
    public DonorService start()
    {
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS))
        {
            throw new FerryException(ErrorCode.IO_ERROR, "donor root " + root + " is not a directory");
        }
        options.settings().conclude();
        TlsHints.checkRequiredTls(options.transport(), true);
        options.transport().maxFrameLength(options.settings().maxFrameLength()).transferCap(options.settings().transferCap())
            .conclude();
        if (options.transport().tls() != null && options.transport().tls().clientMode())
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor was given a client's TLS config; it needs " +
                "TlsConfig.server (--tls-cert and --tls-key)");
        }
        if (options.restartWindowMs < 0 || options.restartWindowMs > TimeUnit.DAYS.toMillis(7))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "restart window " + options.restartWindowMs +
                " ms is invalid: it must be between 0 and 7 days");
        }
        if (options.maxClones < 1 || options.maxQueued < 0)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--max-clones must be >= 1 and --max-queued >= 0, got " +
                options.maxClones + " and " + options.maxQueued);
        }
        if (options.maxRate < 0 || options.maxTotalRate < 0)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "--max-rate and --max-total-rate must be >= 0 " +
                "bytes/s (0: unlimited), got " + options.maxRate + " and " + options.maxTotalRate);
        }
        cloneRate = options.maxRate;
        totalRate = new TokenBucket(SystemNanoClock.INSTANCE, options.maxTotalRate, null);
        hooks = new FreezeHooks(options.freezeCmd, options.thawCmd, options.freezeTimeoutMs);
        helper = new ScheduledThreadPoolExecutor(2, r ->
        {
            final Thread t = new Thread(r, "ferry-donor-helper");
            t.setDaemon(true);
            return t;
        });
        for (int i = 0; i < Math.max(1, options.loops); i++)
        {
            final EventLoop loop = new EventLoop("ferry-donor-loop-" + i, 5);
            loops.add(loop);
            final AgentRunner runner = new AgentRunner(new NoOpIdleStrategy(), this::onLoopError, null, loop);
            runners.add(runner);
            AgentRunner.startOnThread(runner);
        }
        try
        {
            acceptor = Acceptor.open(loops.get(0), listen, options.transport(), this::onAccept);
            bound = acceptor.localAddress();
        }
        catch (final IOException ex)
        {
            close();
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "cannot listen on " + listen + ": " + ex.getMessage() +
                "; choose another --listen address", ex);
        }
        helper.scheduleWithFixedDelay(this::expireClones, 1, 1, TimeUnit.SECONDS);
        final AtomicInteger scanThreadNumber = new AtomicInteger();
        scanThreads = java.util.concurrent.Executors.newCachedThreadPool(r ->
        {
            final Thread t = new Thread(r, "ferry-donor-scan-" + scanThreadNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        return this;
    }

    private void onLoopError(final Throwable ex)
    {
        options.log.onError(ex);
    }

    private void onAccept(final SocketChannel ch)
    {
        if (connections.incrementAndGet() > options.maxConnections)
        {
            connections.decrementAndGet();
            final String why = "the donor already has " + options.maxConnections + " connections open; try again later";
            options.log.onError(new FerryException(ErrorCode.TOO_MANY_CLONES, "refused a connection: " + why));
            try
            {
                // no Connection for a refused socket: one COM_RES_ERROR frame, written once without blocking
                final UnsafeBuffer frame = new UnsafeBuffer(new byte[ErrorCodec.MAX_FRAME_LENGTH]);
                final int length = ErrorCodec.encodeFrame(frame, 0, FrameType.COM_RES_ERROR, ErrorCode.TOO_MANY_CLONES, why);
                ch.configureBlocking(false);
                ch.write(ByteBuffer.wrap(frame.byteArray(), 0, length));
                ch.close();
            }
            catch (final IOException ignore)
            {
                // refused anyway
            }
            return;
        }
        final EventLoop loop = loops.get(Math.floorMod(nextLoop.getAndIncrement(), loops.size()));
        loop.execute(() ->
        {
            try
            {
                dev.ferry.transport.SocketBuffers.apply(ch, options.transport()); // SO_SNDBUF: the donor sends
                final DonorSession session = new DonorSession(this, loop);
                Connection.register(loop, ch, options.transport(),
                    ValidatingHandler.donor(session, options.transport().maxFrameLength()))
                    .errorType(FrameType.COM_RES_ERROR);
                sessions.add(session);
                if (closing)
                {
                    session.shutdown();
                }
            }
            catch (final IOException | RuntimeException | OutOfMemoryError ex)
            {
                connections.decrementAndGet();
                try
                {
                    ch.close();
                }
                catch (final IOException ignore)
                {
                    // gone
                }
            }
        });
    }

    void onSessionClosed(final DonorSession session)
    {
        sessions.remove(session);
        connections.decrementAndGet();
    }

    /**
     * A clone began: its one start line.
     */
    void cloneStarted(final DonorSnapshot c)
    {
        final FileTreeDonor f = c.storage instanceof FileTreeDonor ? (FileTreeDonor)c.storage : null;
        options.logger.log(System.Logger.Level.INFO, "clone started: client " + c.client + ", snapshot " +
            Long.toHexString(c.snapshotId()) + (f == null ? "" : (f.streamed() ? ", manifest streamed while the " +
            "tree is scanned" : ", " + f.manifest().size() + " entries, " + f.manifest().totalBytes() + " bytes") +
            (f.scanShared() ? " (scan shared with a clone that began with it)" : "")));
    }

    /**
     * A clone ended (for good): its one end line, logged once.
     */
    private final java.util.concurrent.atomic.AtomicLong hashedAheadUsed = new java.util.concurrent.atomic.AtomicLong();

    private void cloneEnded(final DonorSnapshot c, final int code, final String why)
    {
        if (!c.endLogged.compareAndSet(false, true))
        {
            return;
        }
        final double seconds = (System.nanoTime() - c.startNanos) / 1e9;
        final long bytes = c.bytesSent.get();
        final long ahead = c.storage instanceof FileTreeDonor ? ((FileTreeDonor)c.storage).hashedAheadUsed() : 0;
        hashedAheadUsed.addAndGet(ahead);
        final String streamed = c.storage instanceof FileTreeDonor ? ((FileTreeDonor)c.storage).streamedSummary() : "";
        if (!streamed.isEmpty())
        {
            streamedClones.incrementAndGet();
            streamedChunks.addAndGet(((FileTreeDonor)c.storage).streamedChunks());
        }
        options.logger.log(code == ErrorCode.OK ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
            String.format(java.util.Locale.ROOT, "clone ended: client %s, snapshot %s, result %s%s, %d bytes sent in " +
            "%.1f s (%.1f MB/s)%s%s", c.client, Long.toHexString(c.snapshotId()), ErrorCode.name(code),
            code == ErrorCode.OK || why == null || why.isEmpty() ? "" : " (" + why + ")", bytes, seconds,
            seconds > 0 ? bytes / seconds / 1e6 : 0, ahead == 0 ? "" : ", " + ahead + " piece hashes computed " +
            "ahead of COM_HAVE", streamed));
    }

    private final java.util.concurrent.atomic.AtomicLong streamedClones = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong streamedChunks = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @return ended clones whose manifest streamed (protocol 5), and the chunks they sent before their manifest was
     *     whole (the data that moved while the donor still scanned).
     */
    public long[] streamed()
    {
        return new long[] { streamedClones.get(), streamedChunks.get() };
    }

    /**
     * @return piece hashes that the data passes of ended clones took from those computed ahead of {@code COM_HAVE}
     *     (an update's donor hashes the files it will compare while the client merges: {@link HashAhead}).
     */
    public long hashedAheadUsed()
    {
        return hashedAheadUsed.get();
    }

    /**
     * @return where the donor listens (the real port when 0 was asked for).
     */
    public InetSocketAddress address()
    {
        return bound;
    }

    Path root()
    {
        return root;
    }

    Options options()
    {
        return options;
    }

    ScheduledThreadPoolExecutor helper()
    {
        return helper;
    }

    /**
     * @return where a session takes its snapshot (a scan may take minutes: never on the helper, whose timers must run).
     */
    java.util.concurrent.Executor scanThreads()
    {
        return scanThreads;
    }

    SharedScans scans()
    {
        return scans;
    }

    /**
     * @return scans of the tree this donor ran, and clones that shared another clone's scan instead of running one.
     */
    public long[] scanCounts()
    {
        return scans.counts();
    }

    /**
     * @return the most piece hashes one clone's {@code COM_HAVE} frames may make the donor hold (16 bytes each): an
     *     eighth of the heap. Past it the remaining pieces are sent rather than compared.
     */
    long maxHavePieces()
    {
        return Runtime.getRuntime().maxMemory() / 8 / dev.ferry.core.protocol.HaveCodec.HASH_LENGTH;
    }

    /**
     * A frozen snapshot whose pass did not finish: thaw it now and end it (the dataset moved on, so the snapshot is
     * no longer one instant); a client coming back gets UNKNOWN_SNAPSHOT and converges again.
     */
    void thawIfHeld(final DonorSnapshot clone, final String why)
    {
        final FreezeHooks.Frozen f = clone.frozen;
        if (f != null && !f.isThawed())
        {
            f.thaw();
            finishClone(clone, ErrorCode.NETWORK, "thawed: " + why);
        }
    }

    FreezeHooks hooks()
    {
        return hooks;
    }

    System.Logger logger()
    {
        return options.logger;
    }

    long handshakeTimeoutNanos()
    {
        return TimeUnit.MILLISECONDS.toNanos(options.handshakeTimeoutMs);
    }

    void addBytesSent(final long n)
    {
        bytesSent.addAndGet(n);
    }

    /**
     * @return data bytes sent to all clients so far.
     */
    public long bytesSent()
    {
        return bytesSent.get();
    }

    /**
     * @return clones held (running, or waiting for a restart).
     */
    public int cloneCount()
    {
        return clones.size();
    }

    /**
     * @return data bytes the clients of the clones held now have acknowledged as applied (the donor's own view of
     * their progress, from COM_ACK).
     */
    public long acknowledgedBytes()
    {
        long sum = 0;
        for (final DonorSnapshot c : clones.values())
        {
            sum += c.storage.acknowledgedBytes();
        }
        return sum;
    }

    /**
     * @return the ids of the snapshots held (running, or waiting for a restart), for monitoring.
     */
    public long[] snapshotIds()
    {
        return clones.keySet().stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * Change the limit of every clone, running and future ({@code --max-rate}). Any thread.
     *
     * @param bytesPerSecond per clone, or 0 for no limit.
     * @throws IllegalArgumentException if negative.
     */
    public void setMaxRate(final long bytesPerSecond)
    {
        if (bytesPerSecond < 0)
        {
            throw new IllegalArgumentException("a rate limit must be >= 0 bytes/s (0: unlimited), got " + bytesPerSecond);
        }
        cloneRate = bytesPerSecond;
        for (final DonorSnapshot c : clones.values())
        {
            c.throttle.rate(bytesPerSecond);
        }
    }

    /**
     * Change the limit of the whole donor ({@code --max-total-rate}). Any thread, after {@link #start}.
     *
     * @param bytesPerSecond every clone together, or 0 for no limit.
     * @throws IllegalArgumentException if negative.
     */
    public void setMaxTotalRate(final long bytesPerSecond)
    {
        totalRate.rate(bytesPerSecond);
    }

    /**
     * @return the per-clone limit in bytes/s (0: none). Any thread.
     */
    public long maxRate()
    {
        return cloneRate;
    }

    /**
     * @return the whole donor's limit in bytes/s (0: none). Any thread, after {@link #start}.
     */
    public long maxTotalRate()
    {
        return totalRate.rate();
    }

    /**
     * @return a new clone's rate limit: the per-clone rate, drawing on the donor's total.
     */
    TokenBucket newCloneThrottle()
    {
        return new TokenBucket(SystemNanoClock.INSTANCE, cloneRate, totalRate);
    }

    /**
     * @return why the snapshot ended, if it ended with an error recently (the last {@link #ENDED_REMEMBERED}), else
     * null: a client that comes back for it is told the cause, not only that it is gone.
     */
    String endedWith(final long snapshotId)
    {
        synchronized (endedWith)
        {
            return endedWith.get(snapshotId);
        }
    }

    DonorSnapshot clone(final long snapshotId)
    {
        return clones.get(snapshotId);
    }

    /** {@link #requestClone}: a slot is reserved for the session; take the snapshot. */
    static final int ADMITTED = 0;
    /** {@link #requestClone}: no slot and no room in the queue (or the client cannot wait): TOO_MANY_CLONES. */
    static final int REFUSED = -1;

    /**
     * A COM_INIT asks for a clone slot. Slots go first come first served: while anyone waits, a newcomer queues
     * behind them. Any loop thread.
     *
     * @param canQueue the client announced {@code FEATURE_QUEUE}.
     * @return {@link #ADMITTED} (a slot is reserved until {@link #addClone} or {@link #releaseReservation}),
     * {@link #REFUSED}, or the session's position in the queue (1 = next); a queued session later hears
     * {@link DonorSession#admitted()} on its loop thread.
     */
    synchronized int requestClone(final DonorSession session, final boolean canQueue)
    {
        if (waiting.isEmpty() && hasFreeSlot(System.nanoTime()))
        {
            reserved++;
            return ADMITTED;
        }
        if (!canQueue || waiting.size() >= options.maxQueued || closing)
        {
            return REFUSED;
        }
        waiting.addLast(session);
        queueChanges++;
        return waiting.size();
    }

    /**
     * @return why a COM_INIT was refused, for its TOO_MANY_CLONES.
     */
    synchronized String refusal(final boolean canQueue)
    {
        return "the donor already serves its maximum of " + options.maxClones + " clones (--max-clones)" +
            (!canQueue ? " and this client cannot wait in its queue" : options.maxQueued == 0 ? " and keeps no queue" :
            " and " + waiting.size() + " more wait in its queue (--max-queued " + options.maxQueued + ")") +
            "; try again later";
    }

    /**
     * Guarded by this. A slot is free when the clones that are served (or were served less than
     * {@link #IDLE_SLOT_GRACE_NANOS} ago), plus the slots reserved, are fewer than the maximum: a snapshot whose
     * client is gone does not hold a slot once the grace has passed (it is dropped when the next clone is added).
     */
    private boolean hasFreeSlot(final long now)
    {
        int busy = reserved;
        for (final DonorSnapshot c : clones.values())
        {
            if (!c.idleLongerThan(now, IDLE_SLOT_GRACE_NANOS))
            {
                busy++;
            }
        }
        return busy < options.maxClones;
    }

    /**
     * @return the session's position in the queue (1 = next) in the high 32 bits, the queue's length in the low; 0
     * if it does not wait (any more).
     */
    synchronized long queuePosition(final DonorSession session)
    {
        int i = 1;
        for (final DonorSession s : waiting)
        {
            if (s == session)
            {
                return ((long)i << 32) | waiting.size();
            }
            i++;
        }
        return 0;
    }

    int queueChanges()
    {
        return queueChanges;
    }

    /**
     * @return clones waiting in the queue. Any thread.
     */
    public synchronized int queuedCount()
    {
        return waiting.size();
    }

    /**
     * A queued session left (its client went away or it failed). Any loop thread.
     */
    void leaveQueue(final DonorSession session)
    {
        synchronized (this)
        {
            if (!waiting.remove(session))
            {
                return;
            }
            queueChanges++;
        }
        admitWaiting();
    }

    /**
     * A reserved slot was not used (the snapshot failed, or the admitted client had gone).
     */
    void releaseReservation()
    {
        synchronized (this)
        {
            reserved--;
        }
        admitWaiting();
    }

    /**
     * Give free slots to the oldest waiting sessions, each told on its own loop thread. Called whenever a slot may
     * have freed (a clone ended or was dropped, a reservation went unused) and once a second. Any thread.
     */
    void admitWaiting()
    {
        List<DonorSession> admitted = null;
        synchronized (this)
        {
            final long now = System.nanoTime();
            while (!waiting.isEmpty() && hasFreeSlot(now))
            {
                final DonorSession s = waiting.pollFirst();
                reserved++;
                queueChanges++;
                if (admitted == null)
                {
                    admitted = new ArrayList<>(1);
                }
                admitted.add(s);
            }
        }
        if (admitted != null)
        {
            for (final DonorSession s : admitted)
            {
                s.loop().execute(s::admitted);
            }
        }
    }

    /**
     * Register a new clone in the slot {@link #requestClone} reserved for it. A snapshot that no session has served
     * for {@link #IDLE_SLOT_GRACE_NANOS} (its client was killed and may never come back) does not hold a slot
     * against it: the one idle the longest is dropped to make room (its client, if it returns, resumes against a
     * new snapshot).
     */
    void addClone(final DonorSnapshot clone)
    {
        DonorSnapshot idle = null;
        synchronized (this)
        {
            reserved--;
            if (clones.size() >= options.maxClones)
            {
                idle = longestIdle(System.nanoTime());
                if (idle == null)
                {
                    clone.storage.close();
                    throw new FerryException(ErrorCode.TOO_MANY_CLONES, "the donor already serves " + clones.size() +
                        " clones (--max-clones " + options.maxClones + ")");
                }
                clones.remove(idle.snapshotId(), idle);
            }
            clones.put(clone.snapshotId(), clone);
        }
        if (idle != null)
        {
            finishClone(idle, ErrorCode.UNKNOWN_SNAPSHOT, "dropped to make room for a new clone: no client served it");
            options.log.onError(new FerryException(ErrorCode.UNKNOWN_SNAPSHOT, "snapshot " +
                Long.toHexString(idle.snapshotId()) + " dropped to make room for a new clone: no client served it"));
        }
    }

    private DonorSnapshot longestIdle(final long now)
    {
        DonorSnapshot longest = null;
        for (final DonorSnapshot c : clones.values())
        {
            if (c.idleLongerThan(now, IDLE_SLOT_GRACE_NANOS) &&
                (longest == null || c.idleSinceNanos() - longest.idleSinceNanos() < 0))
            {
                longest = c;
            }
        }
        return longest;
    }

    /**
     * The clone ended for good: no session may join; its storage closes when its last session has released it.
     */
    void finishClone(final DonorSnapshot clone, final int code, final String why)
    {
        final FreezeHooks.Frozen f = clone.frozen;
        if (f != null)
        {
            f.thaw(); // whatever ended the clone, a frozen dataset is let go
        }
        if (code != ErrorCode.OK)
        {
            synchronized (endedWith)
            {
                endedWith.put(clone.snapshotId(), ErrorCode.name(code) + ": " + why);
            }
        }
        cloneEnded(clone, code, why);
        clones.remove(clone.snapshotId(), clone);
        if (clone.finish())
        {
            clone.storage.close();
        }
        admitWaiting();
    }

    /**
     * A session ended its cursor and closed (its loop thread).
     */
    void releaseSession(final DonorSnapshot clone, final DonorSession session)
    {
        if (clone.release(session))
        {
            clones.remove(clone.snapshotId(), clone);
            clone.storage.close();
        }
        admitWaiting();
    }

    private void expireClones()
    {
        final long now = System.nanoTime();
        for (final DonorSnapshot c : clones.values())
        {
            if (c.expire(now, TimeUnit.MILLISECONDS.toNanos(options.restartWindowMs)))
            {
                if (c.frozen != null)
                {
                    c.frozen.thaw();
                }
                clones.remove(c.snapshotId(), c);
                c.storage.close();
                cloneEnded(c, ErrorCode.NETWORK, "no client came back within the restart window");
                options.log.onError(new FerryException(ErrorCode.UNKNOWN_SNAPSHOT, "snapshot " +
                    Long.toHexString(c.snapshotId()) + " dropped: no client came back within the restart window"));
            }
        }
        admitWaiting(); // also gives a slot whose snapshot has been idle past the grace
    }

    /**
     * Stop at once: as {@link #close(java.time.Duration)} with no drain time (clients are told at once).
     */
    @Override
    public void close()
    {
        close(java.time.Duration.ZERO);
    }

    /**
     * Shut down: stop accepting connections, give running clones up to {@code drain} to finish, then tell every
     * client still connected with {@code COM_RES_ERROR DONOR_SHUTDOWN} (after the frame or file region it is
     * receiving, at most a second), so that it waits for the donor to come back within the restart window instead of
     * guessing, and stop. Any thread but a loop's; returns when everything has stopped.
     */
    public void close(final java.time.Duration drain)
    {
        closing = true;
        if (acceptor != null)
        {
            acceptor.close();
        }
        final long drainEnd = System.nanoTime() + drain.toNanos();
        while (!runners.isEmpty() && clones.values().stream().anyMatch(c -> c.sessionCount() > 0) &&
            System.nanoTime() - drainEnd < 0)
        {
            pause();
        }
        if (!runners.isEmpty())
        {
            for (final DonorSession s : sessions)
            {
                s.loop().execute(s::shutdown);
            }
            final long noticeEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
            while (!sessions.isEmpty() && System.nanoTime() - noticeEnd < 0)
            {
                pause();
            }
        }
        for (final DonorSnapshot c : clones.values())
        {
            if (c.frozen != null)
            {
                c.frozen.thaw();
            }
            cloneEnded(c, ErrorCode.DONOR_SHUTDOWN, "the donor shut down");
        }
        stop();
    }

    private static void pause()
    {
        final boolean interrupted = Thread.interrupted();
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    private void stop()
    {
        if (acceptor != null)
        {
            acceptor.close();
        }
        final boolean interrupted = Thread.interrupted(); // AgentRunner.close() prints when interrupted
        for (final AgentRunner r : runners)
        {
            r.close();
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
        runners.clear();
        if (helper != null)
        {
            helper.shutdownNow();
        }
        if (scanThreads != null)
        {
            scanThreads.shutdownNow();
        }
        // the loops have stopped: no session thread can use a cursor any more, so the storage closes here
        for (final DonorSnapshot c : clones.values())
        {
            clones.remove(c.snapshotId(), c);
            c.finish();
            c.storage.close();
        }
    }
}
