package dev.ferry.core.config;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameHeader;

/**
 * Settings of a clone, shared by donor and recipient. Each setting has a system property name and a default next to
 * each other; setters chain; {@link #conclude()} validates once and throws a message that names the setting.
 * <p>
 * Not thread-safe while being built; treat as immutable after {@link #conclude()}.
 */
public final class CloneSettings
{
    public static final String CHUNK_SIZE_PROP = "ferry.chunk.size";
    public static final long CHUNK_SIZE_DEFAULT = 32L * 1024 * 1024;
    /** Most blocks in a chunk: block numbers within a chunk are int32. */
    public static final long BLOCKS_PER_CHUNK_MAX = Integer.MAX_VALUE;

    public static final String BLOCK_SIZE_PROP = "ferry.block.size";
    public static final int BLOCK_SIZE_DEFAULT = 1024 * 1024;
    /** Smallest block: 4 KiB. Blocks are powers of two from this to {@link #BLOCK_SIZE_MAX}. */
    public static final int BLOCK_SIZE_MIN = 4096;
    /** Largest block: 64 MiB. */
    public static final int BLOCK_SIZE_MAX = 64 * 1024 * 1024;

    /** Largest count a single {@code FileChannel.transferTo} call is asked to move (the kernel caps near 2 GiB). */
    public static final String TRANSFER_CAP_PROP = "ferry.transfer.cap";
    public static final long TRANSFER_CAP_DEFAULT = 0x7FFF_F000L;

    public static final String MAX_FRAME_PROP = "ferry.max.frame";
    public static final int MAX_FRAME_DEFAULT = FrameHeader.DEFAULT_MAX_FRAME_LENGTH;

    /** Most files batched into one chunk, so a chunk of tiny files stays a bounded unit of work. */
    public static final String FILES_PER_CHUNK_PROP = "ferry.chunk.files";
    public static final int FILES_PER_CHUNK_DEFAULT = 4096;
    /** Most files per chunk a recipient accepts from a donor's layout (docs/PROTOCOL.md, Limits). */
    public static final int FILES_PER_CHUNK_MAX = 1 << 20;

    public static final String CHECKSUM_PROP = "ferry.checksum";
    public static final boolean CHECKSUM_DEFAULT = true;

    /** Blocks up to this size are read into a buffer and batched rather than sent with one sendfile each. */
    public static final String SMALL_BLOCK_PROP = "ferry.small.block";
    public static final int SMALL_BLOCK_DEFAULT = 64 * 1024;

    /** Force files and directories to disk at the end (the FILE SYNC stage). */
    public static final String SYNC_PROP = "ferry.sync";
    public static final boolean SYNC_DEFAULT = true;

    private String propertyError;
    private long chunkSize = longProperty(CHUNK_SIZE_PROP, CHUNK_SIZE_DEFAULT);
    private int blockSize = (int)longProperty(BLOCK_SIZE_PROP, BLOCK_SIZE_DEFAULT);
    private long transferCap = longProperty(TRANSFER_CAP_PROP, TRANSFER_CAP_DEFAULT);
    private int maxFrameLength = (int)longProperty(MAX_FRAME_PROP, MAX_FRAME_DEFAULT);
    private int filesPerChunk = (int)longProperty(FILES_PER_CHUNK_PROP, FILES_PER_CHUNK_DEFAULT);
    private boolean checksum = Boolean.parseBoolean(System.getProperty(CHECKSUM_PROP, String.valueOf(CHECKSUM_DEFAULT)));
    private int smallBlock = (int)longProperty(SMALL_BLOCK_PROP, SMALL_BLOCK_DEFAULT);
    private boolean smallBlockSet = System.getProperty(SMALL_BLOCK_PROP) != null;
    private boolean sync = Boolean.parseBoolean(System.getProperty(SYNC_PROP, String.valueOf(SYNC_DEFAULT)));

    private long longProperty(final String name, final long defaultValue)
    {
        final String v = System.getProperty(name);
        if (v == null)
        {
            return defaultValue;
        }
        try
        {
            final long parsed = Long.parseLong(v.trim());
            if (parsed < Integer.MIN_VALUE || parsed > Integer.MAX_VALUE)
            {
                if (!name.equals(CHUNK_SIZE_PROP) && !name.equals(TRANSFER_CAP_PROP))
                {
                    throw new NumberFormatException();
                }
            }
            return parsed;
        }
        catch (final NumberFormatException ex)
        {
            if (propertyError == null)
            {
                propertyError = name + "=" + v;
            }
            return defaultValue;
        }
    }

    public CloneSettings chunkSize(final long v)
    {
        chunkSize = v;
        return this;
    }

    public long chunkSize()
    {
        return chunkSize;
    }

    public CloneSettings blockSize(final int v)
    {
        blockSize = v;
        return this;
    }

    public int blockSize()
    {
        return blockSize;
    }

    public CloneSettings transferCap(final long v)
    {
        transferCap = v;
        return this;
    }

    public long transferCap()
    {
        return transferCap;
    }

    public CloneSettings maxFrameLength(final int v)
    {
        maxFrameLength = v;
        return this;
    }

    public int maxFrameLength()
    {
        return maxFrameLength;
    }

    public CloneSettings filesPerChunk(final int v)
    {
        filesPerChunk = v;
        return this;
    }

    public int filesPerChunk()
    {
        return filesPerChunk;
    }

    public CloneSettings checksum(final boolean v)
    {
        checksum = v;
        return this;
    }

    public boolean checksum()
    {
        return checksum;
    }

    public CloneSettings smallBlock(final int v)
    {
        smallBlock = v;
        smallBlockSet = true;
        return this;
    }

    public int smallBlock()
    {
        return smallBlock;
    }

    public CloneSettings sync(final boolean v)
    {
        sync = v;
        return this;
    }

    public boolean sync()
    {
        return sync;
    }

    /**
     * Validate every setting once.
     *
     * @return this.
     * @throws FerryException naming the first bad setting.
     */
    public CloneSettings conclude()
    {
        if (propertyError != null)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "setting " + propertyError +
                " is invalid: it must be a whole number of bytes or items");
        }
        if (!smallBlockSet && smallBlock > blockSize)
        {
            smallBlock = blockSize;
        }
        if (blockSize < BLOCK_SIZE_MIN || blockSize > BLOCK_SIZE_MAX || Integer.bitCount(blockSize) != 1)
        {
            throw bad(BLOCK_SIZE_PROP, blockSize, "a power of two between 4 KiB and 64 MiB");
        }
        if (chunkSize < blockSize || chunkSize % blockSize != 0 || chunkSize / blockSize > BLOCKS_PER_CHUNK_MAX)
        {
            throw bad(CHUNK_SIZE_PROP, chunkSize, "a multiple of the block size (" + blockSize + ")");
        }
        if (transferCap < 1)
        {
            throw bad(TRANSFER_CAP_PROP, transferCap, "at least 1");
        }
        if (maxFrameLength < blockSize + 4096)
        {
            throw bad(MAX_FRAME_PROP, maxFrameLength, "at least the block size plus 4096");
        }
        if (filesPerChunk < 1 || filesPerChunk > FILES_PER_CHUNK_MAX)
        {
            throw bad(FILES_PER_CHUNK_PROP, filesPerChunk, "between 1 and " + FILES_PER_CHUNK_MAX);
        }
        if (smallBlock < 0 || smallBlock > blockSize)
        {
            throw bad(SMALL_BLOCK_PROP, smallBlock, "between 0 and the block size");
        }
        return this;
    }

    private static FerryException bad(final String name, final long value, final String expected)
    {
        return new FerryException(ErrorCode.CONFIG_MISMATCH, "setting " + name + "=" + value + " is invalid: " +
            "it must be " + expected);
    }

    @Override
    public String toString()
    {
        return "chunk=" + chunkSize + " block=" + blockSize + " checksum=" + checksum + " sync=" + sync;
    }
}
