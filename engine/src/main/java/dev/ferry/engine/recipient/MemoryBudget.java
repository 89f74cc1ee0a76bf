package dev.ferry.engine.recipient;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.LocatorCodec;

/**
 * The recipient's memory bounds for what a donor announces (docs/PROTOCOL.md, Limits). The tables of a clone grow with
 * the entries that arrive and with the chunks their sizes lay out; a manifest whose announced counts could not fit in
 * this JVM's heap is refused when it is announced, with a message that says how to give the client more, instead of
 * running out of memory half-way through. The per-item costs are measured by {@code MemoryBoundsTest}. Stateless.
 */
public final class MemoryBudget
{
    /**
     * Heap a chunk costs the recipient at most, all tables together: the rebuilt chunk plan while it is built (its
     * growing lists and final arrays, the sort of the reservation order), the applied state and its copies, and a
     * connection's per-chunk maps.
     */
    public static final long BYTES_PER_CHUNK = 256;
    /**
     * Heap an entry costs the recipient at most (measured: 1-2 bytes whatever the length of its name; 138 with a
     * 3-byte name while each had a {@link TargetEntry} object and the path index was on the heap, 403 before issue
     * 10): a byte of state in {@link TargetEntries}, which doubles as it grows (FILE SYNC's mark among its bits). The entry
     * itself, name included, and the path index lie off the heap, in mapped pages.
     */
    public static final long BYTES_PER_ENTRY = 4;

    private MemoryBudget()
    {
    }

    /**
     * @return the most chunks a clone may lay out in this JVM: a quarter of the heap, at most the protocol's 2^24.
     */
    public static long maxChunks()
    {
        return Math.min(LocatorCodec.MAX_CHUNKS, Runtime.getRuntime().maxMemory() / 4 / BYTES_PER_CHUNK);
    }

    /**
     * @return the most entries a manifest may have in this JVM: two thirds of the heap, at most
     * {@link FileTreeRecipient#MAX_ENTRIES} (ten million fit -Xmx64m).
     */
    public static long maxEntries()
    {
        return maxEntries(Runtime.getRuntime().maxMemory());
    }

    static long maxEntries(final long heap)
    {
        return Math.min(FileTreeRecipient.MAX_ENTRIES, heap / 3 * 2 / BYTES_PER_ENTRY);
    }

    /**
     * Entries and chunks together must leave a quarter of the heap to the rest of the clone.
     */
    static void checkTogether(final long entries, final long chunks)
    {
        final long heap = Runtime.getRuntime().maxMemory();
        final long need = entries * BYTES_PER_ENTRY + chunks * BYTES_PER_CHUNK;
        if (need > heap / 4 * 3)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor announced " + entries + " entries and " +
                chunks + " chunks; their tables need about " + mib(need) + " MiB, more than three quarters of this " +
                "client's heap of " + mib(heap) + " MiB: give the client more heap (FERRY_JAVA_OPTS=-Xmx...) or clone " +
                "from a donor with a larger --chunk-size");
        }
    }

    static void checkChunks(final long announced)
    {
        final long max = maxChunks();
        if (announced > max)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor announced " + announced + " chunks; this " +
                "client's heap of " + mib(Runtime.getRuntime().maxMemory()) + " MiB holds the tables of at most " + max +
                " (" + BYTES_PER_CHUNK + " bytes each in a quarter of the heap): give the client more heap " +
                "(FERRY_JAVA_OPTS=-Xmx...) or clone from a donor with a larger --chunk-size");
        }
    }

    static void checkEntries(final long announced)
    {
        checkEntries(announced, Runtime.getRuntime().maxMemory());
    }

    static void checkEntries(final long announced, final long heap)
    {
        final long max = maxEntries(heap);
        if (announced > max)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor announced " + announced + " entries; this " +
                "client's heap of " + mib(heap) + " MiB holds at most " + max + " (at most " +
                BYTES_PER_ENTRY + " bytes each in two thirds of the heap): give the client more heap (FERRY_JAVA_OPTS=-Xmx...)");
        }
    }

    /**
     * A streamed manifest has no count up front: before its entries pass {@code checked}, the recipient checks how far
     * they may go next. The next checkpoint is twice what arrived (at least 1,024), but no more than this heap holds,
     * so a manifest the heap does hold is never refused for a doubling it will not reach (ten million entries under
     * -Xmx64m, whose heap holds 11.2 million: doubling past 8.4 million asked for 16.8 million and was refused).
     *
     * @param received entries that have arrived.
     * @return the next checkpoint: more than {@code received}.
     * @throws FerryException CONFIG_MISMATCH when one more entry would not fit.
     */
    static long nextStreamedCheck(final long received, final long heap)
    {
        final long max = maxEntries(heap);
        if (received + 1 > max)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor's streamed manifest has passed " + received +
                " entries; this client's heap of " + mib(heap) + " MiB holds at most " + max + " (at most " +
                BYTES_PER_ENTRY + " bytes each in two thirds of the heap): give the client more heap (FERRY_JAVA_OPTS=-Xmx...)");
        }
        return Math.min(max, Math.max(1024, 2L * received));
    }

    static long nextStreamedCheck(final long received)
    {
        return nextStreamedCheck(received, Runtime.getRuntime().maxMemory());
    }

    private static long mib(final long bytes)
    {
        return bytes / (1024 * 1024);
    }
}
