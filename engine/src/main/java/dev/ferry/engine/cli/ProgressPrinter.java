package dev.ferry.engine.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.Consumer;

import dev.ferry.core.protocol.PeerText;
import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.CloneStage;

/**
 * Shows clone progress: a line redrawn on a terminal, or one JSON object per call for machines (the columns of the
 * clone plugin's progress table: stage, estimate, data, network, speeds, entries, threads, restarts), and says once on
 * stderr when the clone loses its donor and reconnects. Called on the thread running the clone.
 */
final class ProgressPrinter implements Consumer<CloneProgress>
{
    enum Mode
    {
        AUTO, TTY, JSON, NONE
    }

    private final PrintWriter out;
    private final PrintWriter err;
    private final Mode mode;
    private long lastData;
    private long lastNetwork;
    private double lastSeconds;
    private boolean drew;
    private boolean saidReconnecting;

    /**
     * @param out  where JSON records go (stdout).
     * @param err  where the progress line and the reconnect notice go (stderr).
     */
    ProgressPrinter(final PrintWriter out, final PrintWriter err, final Mode mode)
    {
        this.out = out;
        this.err = err;
        this.mode = mode == Mode.AUTO ? (System.console() != null ? Mode.TTY : Mode.NONE) : mode;
    }

    @Override
    public void accept(final CloneProgress p)
    {
        final double s = p.seconds();
        final double dt = Math.max(1e-3, s - lastSeconds);
        final long data = p.dataBytes();
        final long net = p.networkBytes();
        final double dataRate = Math.max(0, (data - lastData) / dt);
        final double netRate = Math.max(0, (net - lastNetwork) / dt);
        lastData = data;
        lastNetwork = net;
        lastSeconds = s;
        if (p.reconnecting() && !saidReconnecting)
        {
            saidReconnecting = true;
            clearLine();
            err.println(String.format(Locale.ROOT, "ferry: lost the donor: %s; reconnecting for up to %.0f s",
                PeerText.escape(p.reconnectError()), p.reconnectSecondsLeft()));
            err.flush();
        }
        else if (!p.reconnecting() && saidReconnecting && p.error() == null)
        {
            saidReconnecting = false;
            clearLine();
            err.println("ferry: reconnected to the donor (restart " + p.restarts() + ")");
            err.flush();
        }
        if (mode == Mode.JSON)
        {
            out.println(json(p, dataRate, netRate));
            out.flush();
        }
        else if (mode == Mode.TTY && p.error() == null && p.queued())
        {
            err.print(String.format(Locale.ROOT, "\r%-9s queued: position %d of %d waiting for a free clone slot " +
                "on the donor, %.0f s   ", p.stage().label(), p.queuePosition(), p.queueLength(), s));
            err.flush();
            drew = true;
        }
        else if (mode == Mode.TTY && p.error() == null)
        {
            final long est = p.estimatedBytes();
            final double pct = est > 0 ? 100.0 * data / est : 0;
            final double avg = s > 0 ? data / s : 0;
            final String eta = avg > 0 && est > data ? String.format(Locale.ROOT, "%.0f s", (est - data) / avg) : "-";
            final double shownRate = p.stage().compareTo(CloneStage.FILE_SYNC) >= 0 ? avg : dataRate;
            err.print(String.format(Locale.ROOT, "\r%-9s %s / %s (%.0f%%)%s  %d/%d entries  %s  ETA %s  %d threads%s%s   ",
                p.stage().label(), Units.bytes(data), Units.bytes(est), pct,
                p.holeBytes() > 0 ? " + " + Units.bytes(p.holeBytes()) + " holes" : "", p.entriesDone(), p.entriesTotal(),
                Units.rate((long)shownRate, 1.0), eta, p.threads(),
                p.compressedDataBytes() > 0 && data > 0 ? String.format(Locale.ROOT, "  wire %s = %.0f%% of data",
                Units.bytes(net), 100.0 * net / data) : "",
                p.reconnecting() ? String.format(Locale.ROOT, "  reconnecting (attempt %d, %.0f s left)",
                p.reconnectAttempt(), p.reconnectSecondsLeft()) : p.restarts() > 0 ? "  restarts " + p.restarts() +
                " (" + Units.bytes(Math.max(0, net - data)) + " beyond the data on the wire)" : ""));
            err.flush();
            drew = true;
        }
    }

    /**
     * One JSON record (the format README documents).
     */
    static String json(final CloneProgress p, final double dataRate, final double netRate)
    {
        final String state = p.error() != null ? "failed" : p.stage() == CloneStage.DONE ? "done" :
            p.reconnecting() ? "reconnecting" : p.queued() ? "queued" : "running";
        final StringBuilder b = new StringBuilder(256);
        b.append(String.format(Locale.ROOT,
            "{\"stage\":\"%s\",\"state\":\"%s\",\"estimate_bytes\":%d,\"data_bytes\":%d,\"hole_bytes\":%d," +
            "\"network_bytes\":%d," +
            "\"data_speed\":%.0f,\"network_speed\":%.0f,\"entries_done\":%d,\"entries_total\":%d,\"threads\":%d," +
            "\"restarts\":%d,\"seconds\":%.3f",
            p.stage().label(), state, p.estimatedBytes(), p.dataBytes(), p.holeBytes(), p.networkBytes(), dataRate, netRate,
            p.entriesDone(), p.entriesTotal(), p.threads(), p.restarts(), p.seconds()));
        if (p.compressedDataBytes() > 0)
        {
            b.append(",\"compressed_data_bytes\":").append(p.compressedDataBytes())
                .append(",\"compressed_wire_bytes\":").append(p.compressedWireBytes());
        }
        if (p.reconnecting())
        {
            b.append(String.format(Locale.ROOT, ",\"reconnect_attempt\":%d,\"reconnect_seconds_left\":%.1f," +
                "\"reconnect_error\":%s", p.reconnectAttempt(), p.reconnectSecondsLeft(), quote(p.reconnectError())));
        }
        if (p.queued())
        {
            b.append(",\"queue_position\":").append(p.queuePosition()).append(",\"queue_length\":")
                .append(p.queueLength());
        }
        if (p.error() != null)
        {
            b.append(",\"error_code\":").append(quote(p.error().name())).append(",\"message\":")
                .append(quote(p.errorMessage()));
        }
        if (p.error() == null && p.stage() == CloneStage.DONE)
        {
            b.append(",\"warnings\":[");
            for (int i = 0; i < p.warnings().size(); i++)
            {
                b.append(i > 0 ? "," : "").append(quote(p.warnings().get(i)));
            }
            b.append(']');
        }
        return b.append('}').toString();
    }

    /**
     * Print what the copy could not keep, each kind once, on {@code err} as {@code ferry: warning: LINE} (peer text
     * escaped so it cannot drive the terminal).
     */
    static void warnings(final PrintWriter err, final java.util.List<String> lines)
    {
        for (final String line : lines)
        {
            err.println("ferry: warning: " + PeerText.escape(line));
        }
        err.flush();
    }

    /**
     * @return {@code s} as a JSON string literal (control characters and non-ASCII escaped).
     */
    static String quote(final String s)
    {
        final StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            if (c == '"' || c == '\\')
            {
                b.append('\\').append(c);
            }
            else if (c < 0x20 || c > 0x7e)
            {
                b.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
            }
            else
            {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private void clearLine()
    {
        if (drew)
        {
            err.println();
            drew = false;
        }
    }

    void end()
    {
        clearLine();
        err.flush();
    }
}
