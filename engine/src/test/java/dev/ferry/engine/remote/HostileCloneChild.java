package dev.ferry.engine.remote;

import dev.ferry.engine.cli.FerryMain;

import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;

/**
 * {@code ferry} in a child JVM for the hostile-donor suite: runs the command line given, then prints on stdout
 * {@code peak-heap N}, the sum of the heap pools' peak use in bytes since the JVM started, and exits with the
 * command's exit code. Stderr is exactly what {@code ferry} wrote.
 */
public final class HostileCloneChild
{
    private HostileCloneChild()
    {
    }

    public static void main(final String[] args)
    {
        final PrintWriter out = new PrintWriter(System.out, true);
        final PrintWriter err = new PrintWriter(System.err, true);
        final int code = FerryMain.run(args, out, err);
        long peak = 0;
        for (final MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans())
        {
            if (pool.getType() == MemoryType.HEAP)
            {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        out.println("peak-heap " + peak);
        out.flush();
        System.exit(code);
    }
}
