package dev.ferry.engine.recipient;

/**
 * Piece hashes of the copy's files known without reading them: the live clone's {@link CopyHashCache} (the last pass
 * left them) or the copy's {@link HashStore} (the clone or update that wrote the files left them). Driver thread.
 */
interface KnownHashes
{
    /**
     * @return the copy's hashes of {@code e}'s first pieces (as many as the copy has, up to {@code maxPieces}; two
     *     longs a piece), or null when nothing is known of the file as it is now.
     */
    long[] lookup(TargetEntry e, long maxPieces, int pieceSize);
}
