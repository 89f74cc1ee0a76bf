package dev.ferry.core.spi;

import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * The bytes of one data block handed to {@link RecipientStorage#apply}: in a buffer (remote clone) or as a
 * region of a donor file (local clone). Valid only during the {@code apply} call.
 */
public interface ApplyData
{
    /**
     * @return number of bytes.
     */
    int length();

    /**
     * @return the CRC32C of the bytes, computed by the recipient (not trusted from the donor).
     */
    int crc32c();

    /**
     * Write all bytes to {@code target} at {@code position}, looping over partial writes.
     */
    void writeTo(FileChannel target, long position) throws IOException;

    /**
     * Write bytes {@code [from, from + length)} of the data to {@code target} at {@code position} (one run of the
     * pieces of a block whose pieces are not all present).
     */
    void writeTo(FileChannel target, long position, int from, int length) throws IOException;

    /**
     * @return true if bytes {@code [from, from + length)} are all zero; false when this data cannot tell cheaply
     *     (a file region), which only means they are written.
     */
    default boolean isZero(final int from, final int length)
    {
        return false;
    }
}
