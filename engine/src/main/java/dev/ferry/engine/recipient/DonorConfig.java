package dev.ferry.engine.recipient;

import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.PeerText;

/**
 * The donor's {@code COM_RES_CONFIG}, checked before any of it drives work (docs/PROTOCOL.md 4.6 and Limits): the
 * storage engine and format, the checksum, the restart window and the chunk layout. Every quantity must lie within
 * its documented bounds; a value outside them is {@code CONFIG_MISMATCH} with a message that names the key, the value
 * (escaped: it is the donor's text) and the bound. Immutable once made.
 */
final class DonorConfig
{
    /** Longest restart window a donor may announce: the donor's own limit. */
    static final long MAX_RESTART_WINDOW_MS = TimeUnit.DAYS.toMillis(7);

    final int blockSize;
    final long chunkSize;
    final int filesPerChunk;
    final boolean checksum;
    /** Milliseconds, or -1 when the donor did not say. */
    final long restartWindowMs;

    private DonorConfig(final int blockSize, final long chunkSize, final int filesPerChunk, final boolean checksum,
        final long restartWindowMs)
    {
        this.blockSize = blockSize;
        this.chunkSize = chunkSize;
        this.filesPerChunk = filesPerChunk;
        this.checksum = checksum;
        this.restartWindowMs = restartWindowMs;
    }

    /**
     * @param requireChecksum refuse a donor that sends blocks without CRC32C.
     * @param maxFrameLength  the smaller of this side's frame caps: a block and its frame header must fit in one frame.
     */
    static DonorConfig check(final Map<String, String> config, final boolean requireChecksum, final int maxFrameLength)
    {
        final long window = number(config, "restart_window_ms", "-1", -1, MAX_RESTART_WINDOW_MS,
            "-1 (not said) to 7 days");
        final String engine = config.get("engine");
        if (!"file-tree".equals(engine))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor storage engine is '" + shown(engine) +
                "', this recipient only applies 'file-tree'");
        }
        if (!"1".equals(config.get("format")))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor format version " + shown(config.get("format")) +
                " is not supported (this recipient applies format 1)");
        }
        final String checksum = config.get("checksum");
        if (!"crc32c".equals(checksum) && !"none".equals(checksum))
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor checksum '" + shown(checksum) + "' is unknown");
        }
        if ("none".equals(checksum) && requireChecksum)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor sends blocks without checksums and this " +
                "recipient requires CRC32C; start the donor with checksums on");
        }
        final int blockSize = (int)number(config, "block_size", null, Integer.MIN_VALUE, Integer.MAX_VALUE,
            "a power of two from 4 KiB to 64 MiB");
        final int blockMax = Math.min(CloneSettings.BLOCK_SIZE_MAX, maxFrameLength - 4096);
        if (blockSize < CloneSettings.BLOCK_SIZE_MIN || Integer.bitCount(blockSize) != 1 || blockSize > blockMax)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor block size " + blockSize + " is not usable " +
                "here (block_size must be a power of two from 4 KiB up to " + blockMax + " bytes: 64 MiB and the " +
                "frame cap " + maxFrameLength + " less 4 KiB)");
        }
        final long chunkSize = number(config, "chunk_size", null, Long.MIN_VALUE, Long.MAX_VALUE,
            "a multiple of the block size of at most 2^31-1 blocks");
        if (chunkSize < blockSize || chunkSize % blockSize != 0 || chunkSize / blockSize > CloneSettings.BLOCKS_PER_CHUNK_MAX)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor chunk size " + chunkSize + " is not usable " +
                "(chunk_size must be a positive multiple of the block size " + blockSize + ", of at most " +
                CloneSettings.BLOCKS_PER_CHUNK_MAX + " blocks)");
        }
        final int filesPerChunk = (int)number(config, "files_per_chunk", null, 1, CloneSettings.FILES_PER_CHUNK_MAX,
            "1 to " + CloneSettings.FILES_PER_CHUNK_MAX);
        return new DonorConfig(blockSize, chunkSize, filesPerChunk, "crc32c".equals(checksum), window);
    }

    /**
     * A whole number within {@code [min, max]}; {@code fallback} when absent (null: the key is required).
     */
    private static long number(final Map<String, String> config, final String key, final String fallback,
        final long min, final long max, final String expected)
    {
        final String v = config.getOrDefault(key, fallback);
        if (v == null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the donor's configuration has no " + key +
                " (it must be " + expected + ")");
        }
        final long n;
        try
        {
            n = Long.parseLong(v);
        }
        catch (final NumberFormatException ex)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor " + key.replace('_', ' ') + " '" + shown(v) +
                "' is not a number (" + key + " must be " + expected + ")");
        }
        if (n < min || n > max)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor " + key.replace('_', ' ') + " " + n +
                " is out of range (" + key + " must be " + expected + ")");
        }
        return n;
    }

    private static String shown(final String v)
    {
        return PeerText.escape(v, 200);
    }
}
