package dev.ferry.engine.diff;

import java.util.function.IntToLongFunction;

import org.agrona.DirectBuffer;
import org.agrona.collections.Int2IntHashMap;
import org.agrona.collections.Int2ObjectHashMap;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.HaveCodec;

/**
 * The donor's record of what a recipient already has: per file of the snapshot, the XXH3-128 hash of each piece of
 * the recipient's copy ({@code COM_HAVE} frames). A piece whose donor bytes hash the same is not sent. Bounded: at
 * most {@code maxPieces} hashes in all (16 bytes each), and per file no more pieces than the donor's file has;
 * anything past that is ignored (those pieces are simply sent). Filled by one session's loop thread, then published
 * to the snapshot's cursors before any of them reads it, and never changed again.
 */
public final class HaveSet
{
    private final Int2ObjectHashMap<long[]> files = new Int2ObjectHashMap<>();
    /** Per file: the piece the next COM_HAVE must start at. */
    private final Int2IntHashMap due = new Int2IntHashMap(0);
    /** Per file: how many leading pieces have a hash kept. */
    private final Int2IntHashMap kept = new Int2IntHashMap(0);
    private final long maxPieces;
    private long pieces;
    /** Files whose hashes the cap cut short: past the kept hashes, the recipient's bytes are unknown. */
    private final org.agrona.collections.IntHashSet truncated = new org.agrona.collections.IntHashSet();

    /**
     * @return whether the recipient named file {@code f} but not all its hashes were kept: every piece past the
     *     kept ones must then be sent as bytes (not left as a hole, which would keep the recipient's old bytes).
     */
    public boolean isTruncated(final int file)
    {
        return truncated.contains(file);
    }

    /** Files the recipient holds exactly as announced: none of their blocks is read or sent. */
    private final org.agrona.collections.IntHashSet whole = new org.agrona.collections.IntHashSet();

    /**
     * @return whether the recipient holds file {@code f} exactly as the snapshot announced it.
     */
    public boolean isWhole(final int file)
    {
        return whole.contains(file);
    }

    public HaveSet(final long maxPieces)
    {
        this.maxPieces = maxPieces;
    }

    /**
     * Take one validated {@code COM_HAVE} body (before the snapshot is known: see {@link #fitTo}).
     *
     * @throws FerryException (BAD_DESCRIPTOR) if a file's hashes do not arrive in order.
     */
    public void add(final DirectBuffer body, final int offset)
    {
        final int file = HaveCodec.file(body, offset);
        if ((HaveCodec.flags(body, offset) & HaveCodec.FLAG_WHOLE) != 0)
        {
            whole.add(file);
            return;
        }
        final int first = HaveCodec.firstPiece(body, offset);
        final int count = HaveCodec.count(body, offset);
        if (first != due.get(file))
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "COM_HAVE for file " + file + " starts at piece " +
                first + " where piece " + due.get(file) + " was due");
        }
        due.put(file, (int)Math.min(Integer.MAX_VALUE, (long)first + count));
        final int take = (int)Math.max(0, Math.min(count, maxPieces - pieces));
        if (take < count || kept.get(file) != first)
        {
            truncated.add(file); // the recipient has more of this file than the donor keeps hashes for
        }
        if (take == 0 || kept.get(file) != first)
        {
            return; // past the cap (or after a gap the cap made): those pieces are simply sent
        }
        long[] h = files.get(file);
        final long need = 2L * (first + take);
        if (need > Integer.MAX_VALUE - 8)
        {
            return;
        }
        if (h == null || h.length < need)
        {
            final long[] grown = new long[(int)Math.min(Integer.MAX_VALUE - 8, Math.max(need,
                h == null ? 0 : h.length * 2L))];
            if (h != null)
            {
                System.arraycopy(h, 0, grown, 0, h.length);
            }
            h = grown;
            files.put(file, h);
        }
        for (int i = 0; i < take; i++)
        {
            h[(first + i) << 1] = HaveCodec.low(body, offset, i);
            h[((first + i) << 1) + 1] = HaveCodec.high(body, offset, i);
        }
        pieces += take;
        kept.put(file, first + take);
    }

    /**
     * Once the snapshot is known: forget files that are not regular files of it, and pieces past each file's end
     * on the donor.
     *
     * @param piecesOf the number of pieces file {@code f} has on the donor, or -1 if it is not a regular file.
     * @return this.
     */
    public HaveSet fitTo(final IntToLongFunction piecesOf)
    {
        whole.removeIf(f -> piecesOf.applyAsLong(f) < 0);
        final Int2ObjectHashMap<long[]>.KeyIterator it = files.keySet().iterator();
        while (it.hasNext())
        {
            final int file = it.nextInt();
            final long donorPieces = piecesOf.applyAsLong(file);
            if (donorPieces <= 0)
            {
                pieces -= kept.get(file);
                it.remove();
                kept.remove(file);
            }
            else if (kept.get(file) > donorPieces)
            {
                pieces -= kept.get(file) - donorPieces;
                kept.put(file, (int)donorPieces);
            }
        }
        return this;
    }

    /**
     * @return the hashes of file {@code f} (two longs per piece; only the first {@link #pieces(int)} pieces are
     *     meaningful), or null when the recipient has nothing of it.
     */
    public long[] hashes(final int file)
    {
        return files.get(file);
    }

    /**
     * @return how many leading pieces of file {@code f} have a hash.
     */
    public int pieces(final int file)
    {
        return kept.get(file);
    }

    public long totalPieces()
    {
        return pieces;
    }

    public boolean isEmpty()
    {
        return files.isEmpty() && whole.isEmpty();
    }
}
