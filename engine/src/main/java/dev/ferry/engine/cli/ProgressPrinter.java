package dev.ferry.engine.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.Consumer;

import dev.ferry.core.spi.Stage;
import dev.ferry.engine.CloneProgress;

/**
 * Shows clone progress: a line redrawn on a terminal, or one JSON object per call for machines (the columns of the
 * clone plugin's progress table: stage, estimate, data, network, speeds, threads).
 */
final class ProgressPrinter implements Consumer<CloneProgress>
{
    enum Mode
    {
        AUTO, TTY, JSON, NONE
    }

    private final PrintWriter out;
    private final Mode mode;
    private long lastData;
    private long lastNetwork;
    private double lastSeconds;
    private boolean drew;

    ProgressPrinter(final PrintWriter out, final Mode mode)
    {
        this.out = out;
        this.mode = mode == Mode.AUTO ? (System.console() != null ? Mode.TTY : Mode.NONE) : mode;
    }

    @Override
    public void accept(final CloneProgress p)
    {
        final double s = p.elapsedSeconds();
        final double dt = Math.max(1e-3, s - lastSeconds);
        final long data = p.dataBytes();
        final long net = p.networkBytes();
        final double dataRate = (data - lastData) / dt;
        final double netRate = (net - lastNetwork) / dt;
        lastData = data;
        lastNetwork = net;
        lastSeconds = s;
        if (mode == Mode.JSON)
        {
            out.println(String.format(Locale.ROOT,
                "{\"stage\":\"%s\",\"estimate_bytes\":%d,\"data_bytes\":%d,\"network_bytes\":%d," +
                "\"data_speed\":%.0f,\"network_speed\":%.0f,\"threads\":%d,\"restarts\":%d,\"seconds\":%.3f}",
                Stage.name(p.stage()), p.estimatedBytes(), data, net, dataRate, netRate, p.threads(), p.restarts(), s));
            out.flush();
        }
        else if (mode == Mode.TTY)
        {
            final long est = p.estimatedBytes();
            final double pct = est > 0 ? 100.0 * data / est : 0;
            final double avg = s > 0 ? data / s : 0;
            final String eta = avg > 0 && est > data ? String.format(Locale.ROOT, "%.0f s", (est - data) / avg) : "-";
            final double shownRate = p.stage() >= Stage.FILE_SYNC ? avg : dataRate; // after the copy: the average
            out.print(String.format(Locale.ROOT, "\r%-9s %s / %s (%.0f%%)  %s  ETA %s  %d threads%s   ",
                Stage.name(p.stage()), Units.bytes(data), Units.bytes(est), pct, Units.rate((long)shownRate, 1.0), eta,
                p.threads(), p.restarts() > 0 ? "  restarts " + p.restarts() + " (" +
                Units.bytes(Math.max(0, net - data)) + " beyond the data on the wire)" : ""));
            out.flush();
            drew = true;
        }
    }

    void end()
    {
        if (drew)
        {
            out.println();
            out.flush();
        }
    }
}
