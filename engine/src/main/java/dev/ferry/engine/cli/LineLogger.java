package dev.ferry.engine.cli;

import java.io.PrintWriter;
import java.text.MessageFormat;
import java.util.ResourceBundle;

/**
 * The CLI's {@link System.Logger}: one line per message on a writer (the donor's stderr), with a prefix; levels below
 * {@code INFO} dropped, everything dropped when quiet. Thread-safe: lines are written under the writer's monitor.
 */
final class LineLogger implements System.Logger
{
    private final String prefix;
    private final PrintWriter out;
    private final boolean quiet;

    LineLogger(final String prefix, final PrintWriter out, final boolean quiet)
    {
        this.prefix = prefix;
        this.out = out;
        this.quiet = quiet;
    }

    @Override
    public String getName()
    {
        return "ferry";
    }

    @Override
    public boolean isLoggable(final Level level)
    {
        return !quiet && level.getSeverity() >= Level.INFO.getSeverity();
    }

    @Override
    public void log(final Level level, final ResourceBundle bundle, final String msg, final Throwable thrown)
    {
        if (isLoggable(level))
        {
            line(msg + (thrown == null ? "" : ": " + thrown));
        }
    }

    @Override
    public void log(final Level level, final ResourceBundle bundle, final String format, final Object... params)
    {
        if (isLoggable(level))
        {
            line(params == null || params.length == 0 ? format : MessageFormat.format(format, params));
        }
    }

    private void line(final String s)
    {
        synchronized (out)
        {
            out.println(prefix + dev.ferry.core.protocol.PeerText.escape(s));
            out.flush();
        }
    }
}
