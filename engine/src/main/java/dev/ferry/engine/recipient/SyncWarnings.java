package dev.ferry.engine.recipient;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What FILE SYNC could not reproduce, grouped by kind so a person reads each kind once: a count and the first few
 * entries it concerns. Thread-safe (FILE SYNC restores regular files on a few threads).
 */
final class SyncWarnings
{
    private static final int NAMES_SHOWN = 5;

    private static final class Kind
    {
        int count;
        final List<String> names = new ArrayList<>();
    }

    private final Map<String, Kind> kinds = new LinkedHashMap<>();

    synchronized void add(final String kind, final String entry)
    {
        final Kind k = kinds.computeIfAbsent(kind, x -> new Kind());
        k.count++;
        if (k.names.size() < NAMES_SHOWN)
        {
            k.names.add(PathGuard.printable(entry));
        }
    }

    synchronized List<String> lines()
    {
        final List<String> out = new ArrayList<>();
        for (final Map.Entry<String, Kind> e : kinds.entrySet())
        {
            final Kind k = e.getValue();
            out.add(e.getKey() + ": " + k.count + " entr" + (k.count == 1 ? "y" : "ies") + " (" +
                String.join(", ", k.names) + (k.count > k.names.size() ? ", ..." : "") + ")");
        }
        return out;
    }
}
