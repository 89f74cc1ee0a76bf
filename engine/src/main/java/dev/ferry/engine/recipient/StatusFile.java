package dev.ferry.engine.recipient;

import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.layout.ManifestScanner;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * {@code TARGET/.ferry/status}: what a clone running (or interrupted) in a target is doing, for {@code ferry status}
 * and any program: a {@link Properties} file (UTF-8, {@code key=value}) replaced atomically (written to
 * {@code status.tmp}, then renamed) about once a second by the clone's driver thread, and once more when the clone
 * fails, keeping the error. Keys: {@link #KEYS}. Never forced to disk: it describes a live process, not the journal.
 */
public final class StatusFile
{
    /** The file's name inside {@code .ferry/}. */
    public static final String NAME = "status";

    /** The keys, in the order {@code ferry status} shows them. */
    public static final String[] KEYS = {
        "state", "stage", "data_bytes", "estimate_bytes", "network_bytes", "entries_done", "entries_total",
        "data_speed", "eta_seconds", "threads", "restarts", "reconnect_attempt", "reconnect_seconds_left",
        "queue_position", "donor", "snapshot", "seconds", "pid", "updated_ms", "error_code", "last_error" };

    private StatusFile()
    {
    }

    /**
     * Replace the status of the clone in {@code target}; does nothing unless the recipient wrote a first status when
     * it began (so the clone finished, or never began, or it is not this clone's target). Errors are ignored: the status is advisory, the journal is what counts.
     *
     * @param failed true when the clone has ended with {@link CloneProgress#error()}.
     */
    static void write(final Path target, final InetSocketAddress donor, final CloneProgress p, final boolean failed)
    {
        final Path dir = target.resolve(ManifestScanner.STATE_DIR);
        if (!Files.isRegularFile(dir.resolve(NAME), LinkOption.NOFOLLOW_LINKS))
        {
            return; // the recipient has not begun (an empty target must stay empty but for the lock) or has finished
        }
        final Map<String, String> v = values(donor, p, failed);
        final Properties props = new Properties();
        props.putAll(v);
        final Path tmp = dir.resolve(NAME + ".tmp");
        try
        {
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8))
            {
                props.store(w, "ferry clone status (ferry status TARGET reads it)");
            }
            try
            {
                Files.move(tmp, dir.resolve(NAME), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            catch (final AtomicMoveNotSupportedException ex)
            {
                Files.move(tmp, dir.resolve(NAME), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        catch (final IOException ex)
        {
            // advisory only; the next write tries again
        }
    }

    static Map<String, String> values(final InetSocketAddress donor, final CloneProgress p, final boolean failed)
    {
        final Map<String, String> v = new LinkedHashMap<>();
        v.put("state", failed ? "failed" : p.reconnecting() ? "reconnecting" : p.queued() ? "queued" : "running");
        v.put("queue_position", Integer.toString(p.queuePosition()));
        v.put("stage", p.stage().label());
        v.put("data_bytes", Long.toString(p.dataBytes()));
        v.put("estimate_bytes", Long.toString(p.estimatedBytes()));
        v.put("network_bytes", Long.toString(p.networkBytes()));
        v.put("entries_done", Long.toString(p.entriesDone()));
        v.put("entries_total", Long.toString(p.entriesTotal()));
        final double avg = p.seconds() > 0 ? p.dataBytes() / p.seconds() : 0;
        v.put("data_speed", String.format(Locale.ROOT, "%.0f", avg));
        v.put("eta_seconds", avg > 0 && p.estimatedBytes() > p.dataBytes() && !failed ?
            String.format(Locale.ROOT, "%.0f", (p.estimatedBytes() - p.dataBytes()) / avg) : "");
        v.put("threads", Integer.toString(p.threads()));
        v.put("restarts", Long.toString(p.restarts()));
        v.put("reconnect_attempt", Integer.toString(p.reconnectAttempt()));
        v.put("reconnect_seconds_left", String.format(Locale.ROOT, "%.0f", p.reconnectSecondsLeft()));
        v.put("donor", donor.getHostString() + ":" + donor.getPort());
        v.put("snapshot", p.snapshotId() == 0 ? "" : Long.toHexString(p.snapshotId()));
        v.put("seconds", String.format(Locale.ROOT, "%.1f", p.seconds()));
        v.put("pid", Long.toString(ProcessHandle.current().pid()));
        v.put("updated_ms", Long.toString(System.currentTimeMillis()));
        v.put("error_code", p.error() == null ? "" : p.error().name());
        v.put("last_error", p.lastError() == null ? "" : p.lastError());
        return v;
    }

    /**
     * Read the status of the clone in {@code target}.
     *
     * @return the values by key, in {@link #KEYS} order (missing keys are absent); null if there is no status file.
     * @throws IOException if it exists but cannot be read.
     */
    public static Map<String, String> read(final Path target) throws IOException
    {
        final Path file = target.resolve(ManifestScanner.STATE_DIR).resolve(NAME);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
        {
            return null;
        }
        final Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8))
        {
            props.load(r);
        }
        final Map<String, String> v = new LinkedHashMap<>();
        for (final String k : KEYS)
        {
            final String value = props.getProperty(k);
            if (value != null)
            {
                v.put(k, value);
            }
        }
        return v;
    }
}
