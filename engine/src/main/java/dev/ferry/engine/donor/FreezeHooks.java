package dev.ferry.engine.donor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.PeerText;

/**
 * The operator's freeze and thaw commands ({@code ferry donor --freeze-cmd CMD --thaw-cmd CMD}): run with
 * {@code /bin/sh -c}, with {@code FERRY_ROOT}, {@code FERRY_SNAPSHOT} (hex), {@code FERRY_HOOK} ({@code freeze} or
 * {@code thaw}) and {@code FERRY_CLIENT} in the environment. A freeze that exits non-zero or runs past the timeout
 * fails the clone ({@code HOOK_FAILED}, with the end of its stderr); after a freeze that succeeded the thaw always
 * runs, exactly once ({@link Frozen#thaw}), whether the clone's last pass finished, failed or was cut.
 */
final class FreezeHooks
{
    private static final int STDERR_KEPT = 2048;

    private final String freezeCmd;
    private final String thawCmd;
    private final long timeoutMs;

    FreezeHooks(final String freezeCmd, final String thawCmd, final long timeoutMs)
    {
        this.freezeCmd = freezeCmd;
        this.thawCmd = thawCmd;
        this.timeoutMs = timeoutMs;
    }

    boolean enabled()
    {
        return freezeCmd != null;
    }

    /**
     * Run the freeze command; on success the dataset is held still until {@link Frozen#thaw}.
     *
     * @throws FerryException HOOK_FAILED if it fails or times out (a thaw then runs at once, in case it froze part).
     */
    Frozen freeze(final Path root, final long snapshotId, final String client, final Executor thawRunner,
        final System.Logger log)
    {
        final Frozen f = new Frozen(root, snapshotId, client, thawRunner, log);
        final String failure = run(freezeCmd, "freeze", root, snapshotId, client);
        if (failure != null)
        {
            f.thaw();
            throw new FerryException(ErrorCode.HOOK_FAILED, "the freeze hook " + failure);
        }
        f.heldSince = System.nanoTime();
        return f;
    }

    /**
     * @return null on success, else what went wrong (exit code or timeout, and the end of stderr).
     */
    private String run(final String cmd, final String hook, final Path root, final long snapshotId, final String client)
    {
        final ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        final Map<String, String> env = pb.environment();
        env.put("FERRY_ROOT", root.toString());
        env.put("FERRY_SNAPSHOT", Long.toHexString(snapshotId));
        env.put("FERRY_HOOK", hook);
        env.put("FERRY_CLIENT", client);
        final Process p;
        try
        {
            p = pb.start();
        }
        catch (final IOException ex)
        {
            return "could not start: " + ex.getMessage();
        }
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final Thread reader = new Thread(() -> drain(p.getErrorStream(), err), "ferry-hook-stderr");
        reader.setDaemon(true);
        reader.start();
        try
        {
            if (!p.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                p.destroyForcibly();
                reader.join(1000);
                return "'" + cmd + "' ran past --freeze-timeout (" + timeoutMs + " ms) and was killed" + tail(err);
            }
            reader.join(1000);
            return p.exitValue() == 0 ? null : "'" + cmd + "' exited with " + p.exitValue() + tail(err);
        }
        catch (final InterruptedException ex)
        {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            return "'" + cmd + "' was interrupted";
        }
    }

    private static void drain(final InputStream in, final ByteArrayOutputStream out)
    {
        final byte[] b = new byte[4096];
        try
        {
            for (int n; (n = in.read(b)) > 0; )
            {
                synchronized (out)
                {
                    out.write(b, 0, n);
                }
            }
        }
        catch (final IOException ignore)
        {
            // the process ended
        }
    }

    private static String tail(final ByteArrayOutputStream err)
    {
        final String s;
        synchronized (err)
        {
            s = err.toString(StandardCharsets.UTF_8).strip();
        }
        if (s.isEmpty())
        {
            return "";
        }
        return ": " + PeerText.escape(s.length() > STDERR_KEPT ? "..." + s.substring(s.length() - STDERR_KEPT) : s);
    }

    /**
     * One freeze that succeeded: thawed exactly once, by whoever gets there first (the end of the last pass's reads,
     * a failure, a cut, the expiry of the snapshot, the donor's shutdown).
     */
    final class Frozen
    {
        private final Path root;
        private final long snapshotId;
        private final String client;
        private final Executor thawRunner;
        private final System.Logger log;
        private final AtomicBoolean thawed = new AtomicBoolean();
        volatile long heldSince;
        private volatile long heldNanos;

        Frozen(final Path root, final long snapshotId, final String client, final Executor thawRunner,
            final System.Logger log)
        {
            this.root = root;
            this.snapshotId = snapshotId;
            this.client = client;
            this.thawRunner = thawRunner;
            this.log = log;
        }

        /**
         * Start the thaw (on the runner, so a loop thread never waits for it) unless it has started already.
         *
         * @return how long the dataset was held (freeze hook done to thaw started), in nanoseconds.
         */
        long thaw()
        {
            if (thawed.compareAndSet(false, true))
            {
                heldNanos = heldSince == 0 ? 0 : System.nanoTime() - heldSince;
                if (thawCmd != null)
                {
                    thawRunner.execute(() ->
                    {
                        final String failure = run(thawCmd, "thaw", root, snapshotId, client);
                        if (failure != null)
                        {
                            log.log(System.Logger.Level.ERROR, "ferry donor: the thaw hook " + failure);
                        }
                    });
                }
            }
            return heldNanos;
        }

        boolean isThawed()
        {
            return thawed.get();
        }
    }
}
