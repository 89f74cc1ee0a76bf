package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import dev.ferry.core.spi.Stage;

import static dev.ferry.core.protocol.Wire.BYTE_ORDER;

/**
 * Body of {@code COM_RES_DATA_DESC}: one of three descriptors, told apart by the first byte.
 * <pre>
 * common:  0 uint8 descriptor type (1 STATE, 2 FILE, 3 DATA)   1 uint8 0   2 uint16 0
 *
 * STATE (40 bytes):  4 int32 stage   8 int64 file count   16 int64 chunk count   24 int64 estimated bytes
 *                   32 int32 block size   36 int32 0
 *
 * FILE (68 + path + target + xattrs):  4 int32 file index   8 int64 size   16 int64 mtime (ns since epoch)
 *                  24 int32 mode (permission bits, 07777, setuid/setgid/sticky included)
 *                  28 uint8 type (1 regular, 2 dir, 3 symlink, 4 hard link, 5 FIFO, 6 char device, 7 block device)
 *                  29 uint8 flags (1 sparse on the donor)   30 uint16 xattr count N
 *                  32 int32 first chunk   36 int32 chunk span   40 int32 uid   44 int32 gid
 *                  48 int64 rdev (devices only, else 0)   56 int32 link index (hard link: an earlier regular entry,
 *                     else -1)   60 int32 xattr section length X
 *                  64 bytes path (uint16 length + raw bytes, relative, '/'-separated; empty only for entry 0, the
 *                     root directory itself)
 *                     bytes symlink target (uint16 length + raw bytes; empty unless type is symlink)
 *                     xattr section, X bytes: N x { uint8 name length n (1..255), n bytes name,
 *                                                   int32 value length v (>= 0), v bytes value }
 *
 * DATA (48 bytes):   4 int32 file index   8 int32 chunk   12 int32 block (within the chunk)
 *                   16 int64 offset in the file   24 int32 length   28 int32 CRC32C of the body
 *                   32 int32 flags (1 last block of its chunk, 2 CRC present, 4 no body, 8 absent pieces are
 *                      unchanged on the recipient, 16 the body is one zstd frame of the present pieces)
 *                   36 int32 body length b   40 int64 piece mask
 *                   the block is [offset, offset + length), cut into pieces of {@link #pieceSize} bytes (the last
 *                   one may be shorter); bit i of the mask set = piece i is in the body, in order; a piece not in
 *                   the body is not written (a hole, or bytes the recipient already has).
 * </pre>
 * A DATA descriptor without flag 4 is followed by a {@code COM_RES_DATA} frame whose body is exactly the body length
 * (0 for a block with no piece to write).
 * <p>
 * Made once and re-wrapped per message; accessors read at absolute indexes. Not thread-safe.
 */
public final class DescriptorFlyweight
{
    public static final int TYPE_STATE = 1;
    public static final int TYPE_FILE = 2;
    public static final int TYPE_DATA = 3;

    public static final int FILE_REGULAR = 1;
    public static final int FILE_DIRECTORY = 2;
    public static final int FILE_SYMLINK = 3;
    /** Another name of an earlier regular entry ({@link #linkIndex()}): no data of its own. */
    public static final int FILE_HARDLINK = 4;
    public static final int FILE_FIFO = 5;
    public static final int FILE_CHAR_DEVICE = 6;
    public static final int FILE_BLOCK_DEVICE = 7;
    public static final int FILE_TYPE_MAX = FILE_BLOCK_DEVICE;

    /** FILE flag: the donor's copy allocates fewer blocks than its size (it has holes). */
    public static final int FILE_FLAG_SPARSE = 1;
    /**
     * FILE flag (protocol 3): the entry was modified within the donor's racy window before the scan read it, so a
     * later write may leave its mtime unchanged. The donor reads such files only once the window has passed; a resume
     * or change pass compares their content whatever their mtime.
     */
    public static final int FILE_FLAG_RECENT = 2;

    /** No hard link: {@link #linkIndex()} of every entry that is not a hard link. */
    public static final int NO_LINK = -1;
    /** Most xattrs one entry may carry (a receiver refuses more with BAD_DESCRIPTOR). */
    public static final int MAX_XATTRS = 64;
    /** Longest xattr name, bytes with its namespace (Linux XATTR_NAME_MAX; the uint8 length cannot say more). */
    public static final int MAX_XATTR_NAME_BYTES = 255;
    /** Largest xattr value, bytes (Linux XATTR_SIZE_MAX). */
    public static final int MAX_XATTR_VALUE_BYTES = 64 * 1024;
    /** Largest xattr section of one entry, bytes. */
    public static final int MAX_XATTR_SECTION_BYTES = 256 * 1024;

    public static final int DATA_FLAG_LAST_IN_CHUNK = 1;
    public static final int DATA_FLAG_CRC = 2;
    /** No COM_RES_DATA follows: the descriptor only reports the block's CRC32C (verify). */
    public static final int DATA_FLAG_NO_BODY = 4;
    /** The pieces not in the body matched the recipient's hashes (reported as unchanged, not as holes). */
    public static final int DATA_FLAG_SAME = 8;
    /**
     * The body is one zstd frame whose content is the present pieces ({@link #maskedLength} bytes exactly); the
     * body length is the compressed length and the CRC32C covers the compressed bytes. Only when the client asked
     * for it ({@code ExecuteFlags.COMPRESS}), never with {@link #DATA_FLAG_NO_BODY}.
     */
    public static final int DATA_FLAG_ZSTD = 16;
    /** Every DATA flag bit. */
    public static final int DATA_FLAGS_ALL = DATA_FLAG_LAST_IN_CHUNK | DATA_FLAG_CRC | DATA_FLAG_NO_BODY |
        DATA_FLAG_SAME | DATA_FLAG_ZSTD;
    /** Every piece of the block is in the body. */
    public static final long ALL_PIECES = -1L;
    /** Pieces a block is cut into at most (one bit each in the piece mask). */
    public static final int MAX_PIECES = 64;
    /** Smallest piece, bytes: a file system page. */
    public static final int MIN_PIECE_SIZE = 4096;

    public static final int TYPE_OFFSET = 0;

    public static final int STATE_STAGE_OFFSET = 4;
    public static final int STATE_FILES_OFFSET = 8;
    public static final int STATE_CHUNKS_OFFSET = 16;
    public static final int STATE_BYTES_OFFSET = 24;
    public static final int STATE_BLOCK_SIZE_OFFSET = 32;
    public static final int STATE_LENGTH = 40;

    public static final int FILE_INDEX_OFFSET = 4;
    public static final int FILE_SIZE_OFFSET = 8;
    public static final int FILE_MTIME_OFFSET = 16;
    public static final int FILE_MODE_OFFSET = 24;
    public static final int FILE_TYPE_OFFSET = 28;
    public static final int FILE_FLAGS_OFFSET = 29;
    public static final int FILE_XATTR_COUNT_OFFSET = 30;
    public static final int FILE_FIRST_CHUNK_OFFSET = 32;
    public static final int FILE_CHUNK_SPAN_OFFSET = 36;
    public static final int FILE_UID_OFFSET = 40;
    public static final int FILE_GID_OFFSET = 44;
    public static final int FILE_RDEV_OFFSET = 48;
    public static final int FILE_LINK_INDEX_OFFSET = 56;
    public static final int FILE_XATTR_LENGTH_OFFSET = 60;
    public static final int FILE_PATH_OFFSET = 64;
    public static final int FILE_MIN_LENGTH = FILE_PATH_OFFSET + 2 * Wire.STRING_LENGTH_SIZE;

    public static final int DATA_FILE_OFFSET = 4;
    public static final int DATA_CHUNK_OFFSET = 8;
    public static final int DATA_BLOCK_OFFSET = 12;
    public static final int DATA_POSITION_OFFSET = 16;
    public static final int DATA_LENGTH_OFFSET = 24;
    public static final int DATA_CRC_OFFSET = 28;
    public static final int DATA_FLAGS_OFFSET = 32;
    public static final int DATA_BODY_LENGTH_OFFSET = 36;
    public static final int DATA_PIECE_MASK_OFFSET = 40;
    public static final int DATA_LENGTH = 48;

    private DirectBuffer buffer;
    private int offset;
    private int length;

    public DescriptorFlyweight wrap(final DirectBuffer buffer, final int offset, final int length)
    {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return this;
    }

    public DirectBuffer buffer()
    {
        return buffer;
    }

    public int offset()
    {
        return offset;
    }

    public int length()
    {
        return length;
    }

    /**
     * Check the wrapped descriptor: its type, its length and every enum and range in it.
     *
     * @return {@link ErrorCode#OK} or {@link ErrorCode#MALFORMED_FRAME}.
     */
    public int validate()
    {
        if (length < 4)
        {
            return ErrorCode.MALFORMED_FRAME;
        }
        switch (type())
        {
            case TYPE_STATE:
                return length == STATE_LENGTH && Stage.isValid(stage()) && fileCount() >= 0 && chunkCount() >= 0 &&
                    estimatedBytes() >= 0 && blockSize() > 0 ? ErrorCode.OK : ErrorCode.MALFORMED_FRAME;

            case TYPE_FILE:
            {
                if (length < FILE_MIN_LENGTH)
                {
                    return ErrorCode.MALFORMED_FRAME;
                }
                final int limit = offset + length;
                final int pathLength = Wire.checkedStringLength(buffer, offset + FILE_PATH_OFFSET, limit, Wire.MAX_STRING_BYTES);
                if (pathLength < 0)
                {
                    return ErrorCode.MALFORMED_FRAME;
                }
                final int targetOffset = offset + FILE_PATH_OFFSET + Wire.STRING_LENGTH_SIZE + pathLength;
                final int targetLength = Wire.checkedStringLength(buffer, targetOffset, limit, Wire.MAX_STRING_BYTES);
                if (targetLength < 0)
                {
                    return ErrorCode.MALFORMED_FRAME;
                }
                final int xattrOffset = targetOffset + Wire.STRING_LENGTH_SIZE + targetLength;
                final int xattrLength = xattrLength();
                if (xattrLength < 0 || xattrLength != limit - xattrOffset || !validXattrs(xattrOffset, limit))
                {
                    return ErrorCode.MALFORMED_FRAME;
                }
                final int fileType = fileType();
                if (fileIndex() < 0 || fileSize() < 0 || (mode() & ~07777) != 0 ||
                    fileType < FILE_REGULAR || fileType > FILE_TYPE_MAX || firstChunk() < 0 || chunkSpan() < 0 ||
                    (fileType != FILE_SYMLINK && targetLength != 0) || (fileFlags() & ~(FILE_FLAG_SPARSE | FILE_FLAG_RECENT)) != 0 ||
                    (fileType == FILE_HARDLINK ? linkIndex() < 0 || linkIndex() >= fileIndex() : linkIndex() != NO_LINK) ||
                    (rdev() != 0 && fileType != FILE_CHAR_DEVICE && fileType != FILE_BLOCK_DEVICE))
                {
                    return ErrorCode.MALFORMED_FRAME;
                }
                return ErrorCode.OK;
            }

            case TYPE_DATA:
                return length == DATA_LENGTH && fileIndex() >= 0 && dataChunk() >= 0 && dataBlock() >= 0 &&
                    dataPosition() >= 0 && dataLength() >= 0 && (dataFlags() & ~DATA_FLAGS_ALL) == 0 &&
                    (dataFlags() & (DATA_FLAG_ZSTD | DATA_FLAG_NO_BODY)) != (DATA_FLAG_ZSTD | DATA_FLAG_NO_BODY) &&
                    bodyLength() >= 0 && bodyLength() <= dataLength() ?
                    ErrorCode.OK : ErrorCode.MALFORMED_FRAME;

            default:
                return ErrorCode.MALFORMED_FRAME;
        }
    }

    public int type()
    {
        return buffer.getByte(offset + TYPE_OFFSET) & 0xFF;
    }

    // STATE

    public int stage()
    {
        return buffer.getInt(offset + STATE_STAGE_OFFSET, BYTE_ORDER);
    }

    public long fileCount()
    {
        return buffer.getLong(offset + STATE_FILES_OFFSET, BYTE_ORDER);
    }

    public long chunkCount()
    {
        return buffer.getLong(offset + STATE_CHUNKS_OFFSET, BYTE_ORDER);
    }

    public long estimatedBytes()
    {
        return buffer.getLong(offset + STATE_BYTES_OFFSET, BYTE_ORDER);
    }

    public int blockSize()
    {
        return buffer.getInt(offset + STATE_BLOCK_SIZE_OFFSET, BYTE_ORDER);
    }

    // FILE and DATA

    public int fileIndex()
    {
        return buffer.getInt(offset + FILE_INDEX_OFFSET, BYTE_ORDER);
    }

    // FILE

    public long fileSize()
    {
        return buffer.getLong(offset + FILE_SIZE_OFFSET, BYTE_ORDER);
    }

    public long mtimeNanos()
    {
        return buffer.getLong(offset + FILE_MTIME_OFFSET, BYTE_ORDER);
    }

    public int mode()
    {
        return buffer.getInt(offset + FILE_MODE_OFFSET, BYTE_ORDER);
    }

    public int fileType()
    {
        return buffer.getByte(offset + FILE_TYPE_OFFSET) & 0xFF;
    }

    public int fileFlags()
    {
        return buffer.getByte(offset + FILE_FLAGS_OFFSET) & 0xFF;
    }

    public boolean isSparse()
    {
        return (fileFlags() & FILE_FLAG_SPARSE) != 0;
    }

    public int xattrCount()
    {
        return buffer.getShort(offset + FILE_XATTR_COUNT_OFFSET, BYTE_ORDER) & 0xFFFF;
    }

    public int uid()
    {
        return buffer.getInt(offset + FILE_UID_OFFSET, BYTE_ORDER);
    }

    public int gid()
    {
        return buffer.getInt(offset + FILE_GID_OFFSET, BYTE_ORDER);
    }

    public long rdev()
    {
        return buffer.getLong(offset + FILE_RDEV_OFFSET, BYTE_ORDER);
    }

    public int linkIndex()
    {
        return buffer.getInt(offset + FILE_LINK_INDEX_OFFSET, BYTE_ORDER);
    }

    public int xattrLength()
    {
        return buffer.getInt(offset + FILE_XATTR_LENGTH_OFFSET, BYTE_ORDER);
    }

    /**
     * @return the xattr section exactly as it travels (see the class diagram); empty if there are none.
     */
    public byte[] xattrBytes()
    {
        final byte[] b = new byte[xattrLength()];
        buffer.getBytes(offset + length - b.length, b);
        return b;
    }

    private boolean validXattrs(final int from, final int limit)
    {
        int p = from;
        final int count = xattrCount();
        for (int i = 0; i < count; i++)
        {
            if (limit - p < 1)
            {
                return false;
            }
            final int n = buffer.getByte(p) & 0xFF;
            if (n == 0 || limit - p - 1 < n + 4)
            {
                return false;
            }
            p += 1 + n;
            final int v = buffer.getInt(p, BYTE_ORDER);
            p += 4;
            if (v < 0 || v > limit - p)
            {
                return false;
            }
            p += v;
        }
        return p == limit;
    }

    public int firstChunk()
    {
        return buffer.getInt(offset + FILE_FIRST_CHUNK_OFFSET, BYTE_ORDER);
    }

    public int chunkSpan()
    {
        return buffer.getInt(offset + FILE_CHUNK_SPAN_OFFSET, BYTE_ORDER);
    }

    public byte[] pathBytes()
    {
        return Wire.getStringBytes(buffer, offset + FILE_PATH_OFFSET);
    }

    public String path()
    {
        return Wire.getString(buffer, offset + FILE_PATH_OFFSET);
    }

    private int targetOffset()
    {
        return offset + FILE_PATH_OFFSET + Wire.STRING_LENGTH_SIZE +
            (buffer.getShort(offset + FILE_PATH_OFFSET, BYTE_ORDER) & 0xFFFF);
    }

    public String linkTarget()
    {
        return Wire.getString(buffer, targetOffset());
    }

    public byte[] linkTargetBytes()
    {
        return Wire.getStringBytes(buffer, targetOffset());
    }

    // DATA

    public int dataChunk()
    {
        return buffer.getInt(offset + DATA_CHUNK_OFFSET, BYTE_ORDER);
    }

    public int dataBlock()
    {
        return buffer.getInt(offset + DATA_BLOCK_OFFSET, BYTE_ORDER);
    }

    public long dataPosition()
    {
        return buffer.getLong(offset + DATA_POSITION_OFFSET, BYTE_ORDER);
    }

    public int dataLength()
    {
        return buffer.getInt(offset + DATA_LENGTH_OFFSET, BYTE_ORDER);
    }

    public int dataCrc()
    {
        return buffer.getInt(offset + DATA_CRC_OFFSET, BYTE_ORDER);
    }

    public int dataFlags()
    {
        return buffer.getInt(offset + DATA_FLAGS_OFFSET, BYTE_ORDER);
    }

    /** Bit i set: piece i of the block is in the body (bits past the block's last piece mean nothing). */
    public long pieceMask()
    {
        return buffer.getLong(offset + DATA_PIECE_MASK_OFFSET, BYTE_ORDER);
    }

    /** Bytes of data in the block: the length of the COM_RES_DATA body that follows (unless flag 4). */
    public int bodyLength()
    {
        return buffer.getInt(offset + DATA_BODY_LENGTH_OFFSET, BYTE_ORDER);
    }

    public boolean isLastInChunk()
    {
        return (dataFlags() & DATA_FLAG_LAST_IN_CHUNK) != 0;
    }

    public boolean hasBody()
    {
        return (dataFlags() & DATA_FLAG_NO_BODY) == 0;
    }

    public boolean hasCrc()
    {
        return (dataFlags() & DATA_FLAG_CRC) != 0;
    }

    /**
     * @return true if the body is zstd-compressed ({@link #DATA_FLAG_ZSTD}).
     */
    public boolean isCompressed()
    {
        return (dataFlags() & DATA_FLAG_ZSTD) != 0;
    }

    // encoders

    public static int encodeState(
        final MutableDirectBuffer b, final int o, final int stage, final long files, final long chunks,
        final long bytes, final int blockSize)
    {
        b.putInt(o, TYPE_STATE, BYTE_ORDER);
        b.putInt(o + STATE_STAGE_OFFSET, stage, BYTE_ORDER);
        b.putLong(o + STATE_FILES_OFFSET, files, BYTE_ORDER);
        b.putLong(o + STATE_CHUNKS_OFFSET, chunks, BYTE_ORDER);
        b.putLong(o + STATE_BYTES_OFFSET, bytes, BYTE_ORDER);
        b.putInt(o + STATE_BLOCK_SIZE_OFFSET, blockSize, BYTE_ORDER);
        b.putInt(o + STATE_BLOCK_SIZE_OFFSET + 4, 0, BYTE_ORDER);
        return STATE_LENGTH;
    }

    public static int fileLength(final byte[] path, final byte[] target)
    {
        return FILE_PATH_OFFSET + Wire.stringSize(path) + Wire.stringSize(target);
    }

    public static int fileLength(final byte[] path, final byte[] target, final byte[] xattrs)
    {
        return fileLength(path, target) + xattrs.length;
    }

    /**
     * A FILE descriptor with no owner (0:0), no xattrs and no link: for tests and tools that need only the layout.
     */
    public static int encodeFile(
        final MutableDirectBuffer b, final int o, final int index, final long size, final long mtimeNanos,
        final int mode, final int fileType, final int firstChunk, final int chunkSpan, final byte[] path,
        final byte[] target)
    {
        return encodeFile(b, o, index, size, mtimeNanos, mode, fileType, 0, firstChunk, chunkSpan, 0, 0, 0, NO_LINK,
            path, target, 0, EMPTY);
    }

    /**
     * @param xattrs the xattr section, {@code xattrCount} entries as in the class diagram ({@link #appendXattr}).
     */
    public static int encodeFile(
        final MutableDirectBuffer b, final int o, final int index, final long size, final long mtimeNanos,
        final int mode, final int fileType, final int flags, final int firstChunk, final int chunkSpan,
        final int uid, final int gid, final long rdev, final int linkIndex, final byte[] path, final byte[] target,
        final int xattrCount, final byte[] xattrs)
    {
        b.putInt(o, TYPE_FILE, BYTE_ORDER);
        b.putInt(o + FILE_INDEX_OFFSET, index, BYTE_ORDER);
        b.putLong(o + FILE_SIZE_OFFSET, size, BYTE_ORDER);
        b.putLong(o + FILE_MTIME_OFFSET, mtimeNanos, BYTE_ORDER);
        b.putInt(o + FILE_MODE_OFFSET, mode, BYTE_ORDER);
        b.putByte(o + FILE_TYPE_OFFSET, (byte)fileType);
        b.putByte(o + FILE_FLAGS_OFFSET, (byte)flags);
        b.putShort(o + FILE_XATTR_COUNT_OFFSET, (short)xattrCount, BYTE_ORDER);
        b.putInt(o + FILE_FIRST_CHUNK_OFFSET, firstChunk, BYTE_ORDER);
        b.putInt(o + FILE_CHUNK_SPAN_OFFSET, chunkSpan, BYTE_ORDER);
        b.putInt(o + FILE_UID_OFFSET, uid, BYTE_ORDER);
        b.putInt(o + FILE_GID_OFFSET, gid, BYTE_ORDER);
        b.putLong(o + FILE_RDEV_OFFSET, rdev, BYTE_ORDER);
        b.putInt(o + FILE_LINK_INDEX_OFFSET, linkIndex, BYTE_ORDER);
        b.putInt(o + FILE_XATTR_LENGTH_OFFSET, xattrs.length, BYTE_ORDER);
        int p = o + FILE_PATH_OFFSET;
        p += Wire.putString(b, p, path);
        p += Wire.putString(b, p, target);
        b.putBytes(p, xattrs);
        p += xattrs.length;
        return p - o;
    }

    /**
     * Append one xattr, in its wire form, to {@code out} (the xattr section of a FILE descriptor).
     */
    public static void appendXattr(final java.io.ByteArrayOutputStream out, final byte[] name, final byte[] value)
    {
        if (name.length == 0 || name.length > MAX_XATTR_NAME_BYTES)
        {
            throw new IllegalArgumentException("xattr name of " + name.length + " bytes, must be 1 to " +
                MAX_XATTR_NAME_BYTES);
        }
        out.write(name.length);
        out.write(name, 0, name.length);
        final int v = value.length;
        out.write(v);
        out.write(v >>> 8);
        out.write(v >>> 16);
        out.write(v >>> 24);
        out.write(value, 0, v);
    }

    private static final byte[] EMPTY = new byte[0];

    /**
     * A DATA descriptor whose body is the whole block.
     */
    public static int encodeData(
        final MutableDirectBuffer b, final int o, final int fileIndex, final int chunk, final int block,
        final long position, final int dataLength, final int crc, final int flags)
    {
        return encodeData(b, o, fileIndex, chunk, block, position, dataLength, crc, flags, ALL_PIECES, dataLength);
    }

    public static int encodeData(
        final MutableDirectBuffer b, final int o, final int fileIndex, final int chunk, final int block,
        final long position, final int dataLength, final int crc, final int flags, final long pieceMask,
        final int bodyLength)
    {
        b.putInt(o, TYPE_DATA, BYTE_ORDER);
        b.putInt(o + DATA_FILE_OFFSET, fileIndex, BYTE_ORDER);
        b.putInt(o + DATA_CHUNK_OFFSET, chunk, BYTE_ORDER);
        b.putInt(o + DATA_BLOCK_OFFSET, block, BYTE_ORDER);
        b.putLong(o + DATA_POSITION_OFFSET, position, BYTE_ORDER);
        b.putInt(o + DATA_LENGTH_OFFSET, dataLength, BYTE_ORDER);
        b.putInt(o + DATA_CRC_OFFSET, crc, BYTE_ORDER);
        b.putInt(o + DATA_FLAGS_OFFSET, flags, BYTE_ORDER);
        b.putInt(o + DATA_BODY_LENGTH_OFFSET, bodyLength, BYTE_ORDER);
        b.putLong(o + DATA_PIECE_MASK_OFFSET, pieceMask, BYTE_ORDER);
        return DATA_LENGTH;
    }

    // pieces: the unit of holes and of unchanged bytes inside a block

    /**
     * @return the piece size of a clone with this block size: a 64th of the block, at least a page (4 KiB).
     */
    public static int pieceSize(final int blockSize)
    {
        return Math.min(blockSize, Math.max(MIN_PIECE_SIZE, blockSize / MAX_PIECES));
    }

    /**
     * @return how many pieces a block of {@code length} bytes has.
     */
    public static int pieceCount(final int length, final int pieceSize)
    {
        return (int)(((long)length + pieceSize - 1) / pieceSize);
    }

    /**
     * @return the mask with every piece of a block of {@code length} bytes.
     */
    public static long allPieces(final int length, final int pieceSize)
    {
        final int n = pieceCount(length, pieceSize);
        return n >= 64 ? -1L : (1L << n) - 1;
    }

    /**
     * @return how many bytes the pieces of {@code mask} (bits past the last piece ignored) hold in a block of
     *     {@code length} bytes: the body length a descriptor with this mask must announce.
     */
    public static long maskedLength(final long mask, final int length, final int pieceSize)
    {
        final long m = mask & allPieces(length, pieceSize);
        final int n = pieceCount(length, pieceSize);
        long bytes = (long)Long.bitCount(m) * pieceSize;
        if (n > 0 && (m & (1L << (n - 1))) != 0)
        {
            bytes -= (long)n * pieceSize - length; // the last piece is short
        }
        return bytes;
    }
}
