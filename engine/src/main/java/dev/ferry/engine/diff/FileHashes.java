package dev.ferry.engine.diff;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The piece hashes of a file the recipient already has: two longs (XXH3-128) per piece of {@code pieceSize} bytes,
 * the last piece as long as the file leaves it. Read in large sequential reads into one direct buffer per caller.
 * Not thread-safe: one per hashing thread.
 */
public final class FileHashes
{
    private static final int READ = 4 * 1024 * 1024;

    private final PieceHasher hasher = new PieceHasher();
    private final ByteBuffer buffer;
    private final int pieceSize;

    public FileHashes(final int pieceSize)
    {
        this.pieceSize = pieceSize;
        this.buffer = ByteBuffer.allocateDirect(Math.max(pieceSize, READ / pieceSize * pieceSize));
    }

    /**
     * @param maxPieces hash no more than this many pieces (the donor's file needs no hash past its own end).
     * @return the hashes of the file's first pieces (as many as it has, up to {@code maxPieces}).
     */
    public long[] of(final Path file, final long maxPieces) throws IOException
    {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final long size = ch.size();
            final long pieces = Math.min(maxPieces, (size + pieceSize - 1) / pieceSize);
            if (pieces > Integer.MAX_VALUE / 2)
            {
                throw new IOException("too many pieces to hash: " + pieces);
            }
            final long[] hashes = new long[(int)pieces * 2];
            long position = 0;
            int piece = 0;
            while (piece < pieces)
            {
                buffer.clear();
                final long want = Math.min(buffer.capacity(), size - position);
                buffer.limit((int)want);
                while (buffer.hasRemaining())
                {
                    if (ch.read(buffer, position + buffer.position()) < 0)
                    {
                        break;
                    }
                }
                final int got = buffer.position();
                if (got == 0)
                {
                    break; // the file shrank while being read: fewer hashes, the rest is sent
                }
                for (int at = 0; at < got && piece < pieces; at += pieceSize, piece++)
                {
                    hasher.hash(buffer, at, Math.min(pieceSize, got - at));
                    hashes[piece << 1] = hasher.low();
                    hashes[(piece << 1) + 1] = hasher.high();
                }
                position += got;
            }
            return piece * 2 == hashes.length ? hashes : java.util.Arrays.copyOf(hashes, piece * 2);
        }
    }
}
