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
     * Heap an entry costs the recipient at least (measured: 403 bytes with a 3-byte name under a 34-byte target path):
     * its entry, name, resolved path, manifest record and set slot. Longer names cost more: about 3 bytes per byte of
     * name, and the target's path once more.
     */
    public static final long BYTES_PER_ENTRY = 384;

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
     * @return the most entries a manifest may have in this JVM: half of the heap, at most {@link FileTreeRecipient#MAX_ENTRIES}.
     */
    public static long maxEntries()
    {
        return Math.min(FileTreeRecipient.MAX_ENTRIES, Runtime.getRuntime().maxMemory() / 2 / BYTES_PER_ENTRY);
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
        final long max = maxEntries();
        if (announced > max)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor announced " + announced + " entries; this " +
                "client's heap of " + mib(Runtime.getRuntime().maxMemory()) + " MiB holds at most " + max + " (at least " +
                BYTES_PER_ENTRY + " bytes each in half of the heap): give the client more heap (FERRY_JAVA_OPTS=-Xmx...)");
        }
    }

    private static long mib(final long bytes)
    {
        return bytes / (1024 * 1024);
    }
}
