package dev.ferry.engine.verify;

import dev.ferry.engine.TlsHints;
import dev.ferry.engine.ValidatingHandler;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import dev.ferry.engine.layout.ManifestScanner;
import dev.ferry.engine.recipient.ClientHandshake;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.PathGuard;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.TreeMap;
import java.util.zip.CRC32C;

import org.agrona.DirectBuffer;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.ErrorCodec;
import dev.ferry.core.protocol.ExecuteFlags;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.core.protocol.LocatorCodec;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.Locator;
import dev.ferry.transport.Connection;
import dev.ferry.transport.ConnectionHandler;
import dev.ferry.transport.EventLoop;

/**
 * Compares a finished copy with what a donor serves now: every entry's type, size, mode, mtime and symlink target
 * against a fresh manifest, and every block's CRC32C against the donor's (COM_EXECUTE with CHECKSUMS_ONLY: the
 * donor computes checksums, no file bytes cross the wire). Reports missing, extra and differing entries, and for a
 * file whose content differs, which blocks differ (numbers and byte offsets). Runs its
 * event loop on the calling thread; one run per instance.
 */
public final class VerifyClient implements ConnectionHandler
{
    /** Most differences reported. */
    public static final int MAX_DIFFERENCES = 1000;

    /**
     * Where the session is, in the order of the remote clone flow: each step names the frame it waits for.
     */
    private enum Step
    {
        /** HELLO (and AUTH_CHALLENGE / AUTH_OK when the donor asks), run by {@link ClientHandshake}. */
        HANDSHAKE,
        /** COM_CLONE and COM_INIT sent: waiting for COM_RES_LOCS. */
        AWAIT_LOCATOR,
        /** Waiting for COM_RES_CONFIG, which gives the block size; then COM_EXECUTE with CHECKSUMS_ONLY. */
        AWAIT_CONFIG,
        /** COM_RES_DATA_DESC (manifest entries, block checksums) until COM_RES_COMPLETE. */
        CHECKING
    }

    private final InetSocketAddress donor;
    private final Path target;
    private final CloneClient.Options options;
    private final List<String> differences = new ArrayList<>();
    private final DescriptorFlyweight desc = new DescriptorFlyweight();
    private final CRC32C crc = new CRC32C();
    private ByteBuffer block;
    private final Set<String> seen = new HashSet<>();
    private final Set<Integer> badFiles = new HashSet<>();
    /** Files whose content differs, by manifest index: their differing blocks. */
    private final Map<Integer, BlockRanges> differingBlocks = new TreeMap<>();
    private String[] paths;
    private Path[] resolved;
    private long[] inodes;
    private long[] sizes;
    private Connection connection;
    private Step step = Step.HANDSHAKE;
    private final ClientHandshake handshake;
    private boolean done;
    private FerryException failure;
    private long blocksChecked;
    private long entriesChecked;

    public VerifyClient(final InetSocketAddress donor, final Path target, final CloneClient.Options options)
    {
        this.donor = donor;
        this.target = target.toAbsolutePath().normalize();
        this.options = options;
        this.handshake = new ClientHandshake(options.secret());
    }

    /**
     * @return the differences found (empty: the copy matches the donor), at most {@link #MAX_DIFFERENCES}.
     * @throws FerryException if the donor cannot be reached or misbehaves.
     */
    public List<String> run()
    {
        TlsHints.checkRequiredTls(options.transport(), false);
        options.transport().conclude();
        final EventLoop loop = new EventLoop("ferry-verify", 5);
        try
        {
            connection = Connection.register(loop, Connection.connect(donor, options.transport()), options.transport(),
                ValidatingHandler.client(this, options.transport().maxFrameLength()));
            final int at = claim(FrameType.HELLO, HelloCodec.MAX_LENGTH);
            final int len = HelloCodec.encode(connection.sendBuffer(), at, options.protocolMin(), options.protocolMax(),
                HelloCodec.ROLE_CLIENT, HelloCodec.FEATURE_CRC32C, "ferry-verify");
            connection.commit(at, len);
            connection.flush();
            final long deadline = System.nanoTime() + TimeUnit.HOURS.toNanos(24);
            while (!done && failure == null && System.nanoTime() < deadline)
            {
                loop.doWork();
            }
        }
        catch (final IOException ex)
        {
            // verify writes nothing, so there is nothing to resume: the default NETWORK hint would say --resume
            throw new FerryException(ErrorCode.NETWORK, "cannot verify against donor " + donor + ": " + ex.getMessage(),
                "check the address, and that `ferry donor` runs there; then verify again", ex);
        }
        finally
        {
            loop.onClose();
        }
        if (failure != null)
        {
            throw failure;
        }
        if (paths != null)
        {
            judgeMtimes();
            reportBlocks();
            findExtra();
        }
        return differences;
    }

    /**
     * Mtimes the copy holds cut to a whole second (or two), waiting for the verdict: on a file system that keeps no
     * fractions of a second (ext4 with 128-byte inodes, ext3, HFS+, FAT, some NFS and SMB servers) that is all a copy
     * can hold, and an update compares at it. The copy's file system is judged coarse, without writing to it, when
     * none of its entries kept a fraction the donor's mtime had.
     */
    /** Mtimes equal to the donor's cut to a second, and those equal only cut to two seconds (FAT's step). */
    private final List<String> oneSecond = new ArrayList<>();
    private final List<String> twoSeconds = new ArrayList<>();
    private long oneSecondCount;
    private long twoSecondCount;
    private long coarseGranularity = 1_000_000_000L;
    private boolean finerThanSeconds;
    private boolean oddSecondSeen;

    private void mtimeDiffers(final long copy, final long donorMtime, final String shown)
    {
        final boolean cutToOne = copy == Math.floorDiv(donorMtime, 1_000_000_000L) * 1_000_000_000L;
        if (cutToOne || copy == Math.floorDiv(donorMtime, 2_000_000_000L) * 2_000_000_000L)
        {
            final List<String> kind = cutToOne ? oneSecond : twoSeconds;
            if (cutToOne)
            {
                oneSecondCount++;
            }
            else
            {
                twoSecondCount++;
            }
            if (kind.size() < MAX_DIFFERENCES)
            {
                kind.add("mtime differs: " + shown);
            }
            return;
        }
        differ("mtime differs: " + shown);
    }

    /**
     * One granularity from the copy's own evidence: any copy mtime with a fraction of a second means it keeps
     * fractions (every cut mtime is a difference); a whole odd second rules out two-second steps (those that fit
     * only them are differences).
     */
    private void judgeMtimes()
    {
        if (finerThanSeconds)
        {
            oneSecond.forEach(this::differ);
            twoSeconds.forEach(this::differ);
            return;
        }
        if (oddSecondSeen)
        {
            twoSeconds.forEach(this::differ);
            coarseMtimesAccepted = oneSecondCount;
            coarseGranularity = 1_000_000_000L;
            return;
        }
        coarseMtimesAccepted = oneSecondCount + twoSecondCount;
        coarseGranularity = twoSecondCount > 0 ? 2_000_000_000L : 1_000_000_000L;
    }

    private long coarseMtimesAccepted;

    /**
     * @return how many entries' mtimes matched the donor's only cut to {@link #mtimeGranularityAccepted()}, on a copy
     *     whose file system keeps no fractions of a second (0 otherwise).
     */
    public long coarseMtimes()
    {
        return coarseMtimesAccepted;
    }

    /**
     * @return the granularity (ns) at which {@link #coarseMtimes()} entries matched.
     */
    public long mtimeGranularityAccepted()
    {
        return coarseGranularity;
    }

    public long blocksChecked()
    {
        return blocksChecked;
    }

    public long entriesChecked()
    {
        return entriesChecked;
    }

    private void differ(final String what)
    {
        if (differences.size() < MAX_DIFFERENCES)
        {
            differences.add(what);
        }
    }

    @Override
    public void onFrame(final Connection c, final int type, final DirectBuffer body, final int offset, final int length)
    {
        try
        {
            handle(type, body, offset, length);
        }
        catch (final FerryException ex)
        {
            failure = ex;
            c.close(ex.code(), ex.getMessage());
        }
        catch (final RuntimeException ex)
        {
            failure = new FerryException(ErrorCode.INTERNAL, "verify failed: " + ex, ex);
            c.close(ErrorCode.INTERNAL, ex.toString());
        }
    }

    private void handle(final int type, final DirectBuffer body, final int offset, final int length)
    {
        if (type == FrameType.COM_RES_ERROR)
        {
            final int code = ErrorCodec.code(body, offset);
            throw new FerryException(code == ErrorCode.OK ? ErrorCode.MALFORMED_FRAME : code, (code == ErrorCode.OK ?
                "donor sent COM_RES_ERROR with code 0 (OK), which names no error: " : "donor refused: ") +
                ErrorCodec.printableMessage(body, offset));
        }
        switch (step)
        {
            case HANDSHAKE:
                if (handshake.onFrame(connection, type, body, offset))
                {
                    startClone();
                }
                return;
            case AWAIT_LOCATOR:
                expect(type, FrameType.COM_RES_LOCS);
                step = Step.AWAIT_CONFIG;
                return;
            case AWAIT_CONFIG:
            {
                expect(type, FrameType.COM_RES_CONFIG);
                final String bs = dev.ferry.core.protocol.ConfigCodec.decode(body, offset).getOrDefault("block_size", "");
                try
                {
                    final int blockSize = Integer.parseInt(bs);
                    if (blockSize < CloneSettings.BLOCK_SIZE_MIN || blockSize > CloneSettings.BLOCK_SIZE_MAX)
                    {
                        throw new NumberFormatException();
                    }
                    block = ByteBuffer.allocateDirect(blockSize);
                }
                catch (final NumberFormatException ex)
                {
                    throw new FerryException(ErrorCode.CONFIG_MISMATCH, "donor block size '" + bs + "' is not usable");
                }
                final int at = claim(FrameType.COM_EXECUTE, ExecuteFlags.LENGTH);
                connection.sendBuffer().putInt(at, ExecuteFlags.CHECKSUMS_ONLY, Wire.BYTE_ORDER);
                connection.flush();
                step = Step.CHECKING;
                return;
            }
            case CHECKING:
            default:
                if (type == FrameType.COM_RES_DATA_DESC)
                {
                    onDescriptor(body, offset, length);
                }
                else if (type == FrameType.COM_RES_COMPLETE)
                {
                    final int at = claim(FrameType.COM_EXIT, ErrorCodec.encodedLength(""));
                    ErrorCodec.encode(connection.sendBuffer(), at, ErrorCode.OK, "");
                    done = true;
                    connection.closeAfterFlush();
                }
                else
                {
                    throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "donor sent " + FrameType.name(type));
                }
        }
    }

    private void startClone()
    {
        claim(FrameType.COM_CLONE, 0);
        final Locator v = Locator.version(Locator.ENGINE_FILE_TREE, options.protocolMin(), options.protocolMax());
        final int at = claim(FrameType.COM_INIT, LocatorCodec.encodedLength(v));
        LocatorCodec.encode(connection.sendBuffer(), at, v);
        connection.flush();
        step = Step.AWAIT_LOCATOR;
    }

    /**
     * @return where the claimed frame's body goes in the send buffer.
     * @throws FerryException (INTERNAL) if the connection has no room for it: the verify fails, nothing is written.
     */
    private int claim(final int type, final int bodyLength)
    {
        final int at = connection.claim(type, bodyLength);
        if (at < 0)
        {
            throw new FerryException(ErrorCode.INTERNAL, "no room to send " + FrameType.name(type) + " (" + bodyLength +
                " bytes) to donor " + donor);
        }
        return at;
    }

    private void onDescriptor(final DirectBuffer body, final int offset, final int length)
    {
        desc.wrap(body, offset, length);
        switch (desc.type())
        {
            case DescriptorFlyweight.TYPE_STATE:
                if (paths == null)
                {
                    if (desc.fileCount() > 100_000_000L)
                    {
                        throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "absurd manifest size " + desc.fileCount());
                    }
                    paths = new String[(int)desc.fileCount()];
                    sizes = new long[paths.length];
                    resolved = new Path[paths.length];
                    inodes = new long[paths.length];
                }
                break;
            case DescriptorFlyweight.TYPE_FILE:
                checkEntry();
                break;
            case DescriptorFlyweight.TYPE_DATA:
                checkBlock();
                break;
            default:
                throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "unknown descriptor");
        }
    }

    private void checkEntry()
    {
        final int index = desc.fileIndex();
        if (paths == null || index >= paths.length)
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "file index " + index + " outside the manifest");
        }
        final byte[] raw = desc.pathBytes();
        final String path = PathBytes.display(raw);
        final Path p;
        if (raw.length == 0 && index == 0)
        {
            p = target;
        }
        else
        {
            try
            {
                p = PathBytes.resolve(target, raw);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new FerryException(ErrorCode.PATH_REFUSED, "refused donor path '" + PathGuard.printable(path) +
                    "': " + ex.getMessage());
            }
            if (ManifestScanner.reservedTop(path))
            {
                throw new FerryException(ErrorCode.PATH_REFUSED, "refused donor path '" +
                    PathGuard.printable(path) + "': it is reserved for the recipient's clone state");
            }
        }
        paths[index] = path;
        resolved[index] = p;
        sizes[index] = desc.fileSize();
        seen.add(path);
        entriesChecked++;
        final String shown = PathGuard.printable(path);
        try
        {
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS))
            {
                differ("missing: " + shown);
                badFiles.add(index);
                return;
            }
            final EntryStat st = NativeFs.instance().stat(PathBytes.cPath(p));
            inodes[index] = st.ino();
            final int type;
            switch (st.type())
            {
                case EntryStat.S_IFLNK:
                    type = DescriptorFlyweight.FILE_SYMLINK;
                    break;
                case EntryStat.S_IFDIR:
                    type = DescriptorFlyweight.FILE_DIRECTORY;
                    break;
                case EntryStat.S_IFREG:
                    type = desc.fileType() == DescriptorFlyweight.FILE_HARDLINK ? DescriptorFlyweight.FILE_HARDLINK :
                        DescriptorFlyweight.FILE_REGULAR;
                    break;
                case EntryStat.S_IFIFO:
                    type = DescriptorFlyweight.FILE_FIFO;
                    break;
                case EntryStat.S_IFCHR:
                    type = DescriptorFlyweight.FILE_CHAR_DEVICE;
                    break;
                case EntryStat.S_IFBLK:
                    type = DescriptorFlyweight.FILE_BLOCK_DEVICE;
                    break;
                default:
                    type = 0;
            }
            if (type != desc.fileType())
            {
                differ("type differs: " + shown);
                badFiles.add(index);
                return;
            }
            if (st.uid() != desc.uid() || st.gid() != desc.gid())
            {
                differ("owner differs: " + shown + " is " + st.uid() + ":" + st.gid() + ", donor has " + desc.uid() +
                    ":" + desc.gid());
            }
            final String expectedX = TreeComparator.xattrs(desc.xattrBytes(), desc.xattrCount());
            final String actualX = localXattrs(p);
            if (!expectedX.equals(actualX))
            {
                differ("xattrs differ: " + shown + " has " + actualX + ", donor has " + expectedX);
            }
            if (type == DescriptorFlyweight.FILE_HARDLINK)
            {
                final int k = desc.linkIndex();
                if (k < 0 || k >= index || resolved[k] == null || inodes[k] != st.ino())
                {
                    differ("hard link differs: " + shown + " is not a link of entry " + k);
                }
                return;
            }
            if (st.mtimeNanos() % 1_000_000_000L != 0)
            {
                finerThanSeconds = true; // the copy's file system keeps fractions of a second
            }
            else if (Math.floorMod(st.mtimeNanos(), 2_000_000_000L) != 0)
            {
                oddSecondSeen = true; // and whole odd seconds: it does not keep two-second steps
            }
            if (st.mtimeNanos() != desc.mtimeNanos())
            {
                mtimeDiffers(st.mtimeNanos(), desc.mtimeNanos(), shown);
            }
            if (type == DescriptorFlyweight.FILE_SYMLINK)
            {
                final byte[] link = NativeFs.instance().readlink(PathBytes.cPath(p));
                if (!java.util.Arrays.equals(link, desc.linkTargetBytes()))
                {
                    differ("symlink target differs: " + shown + " -> " + PathBytes.display(link) + ", donor has " +
                        PathBytes.display(desc.linkTargetBytes()));
                }
                return;
            }
            if (st.permissions() != desc.mode())
            {
                differ("mode differs: " + shown);
            }
            if (st.rdev() != desc.rdev() && type != DescriptorFlyweight.FILE_REGULAR &&
                type != DescriptorFlyweight.FILE_DIRECTORY && type != DescriptorFlyweight.FILE_FIFO)
            {
                differ("device number differs: " + shown);
            }
            if (type == DescriptorFlyweight.FILE_REGULAR && st.size() != desc.fileSize())
            {
                differ("size differs: " + shown + " has " + st.size() + " bytes, donor has " + desc.fileSize());
                badFiles.add(index);
            }
        }
        catch (final IOException ex)
        {
            differ("unreadable: " + shown + " (" + ex.getMessage() + ")");
            badFiles.add(index);
        }
    }

    private static String localXattrs(final Path p) throws IOException
    {
        final NativeFs fs = NativeFs.instance();
        final byte[] c = PathBytes.cPath(p);
        final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int n = 0;
        for (final byte[] name : fs.listXattrs(c))
        {
            final byte[] v = fs.getXattr(c, name);
            if (v != null)
            {
                DescriptorFlyweight.appendXattr(out, name, v);
                n++;
            }
        }
        return TreeComparator.xattrs(out.toByteArray(), n);
    }

    private void checkBlock()
    {
        final int index = desc.fileIndex();
        if (paths == null || index >= paths.length || paths[index] == null || desc.dataLength() > block.capacity())
        {
            throw new FerryException(ErrorCode.BAD_DESCRIPTOR, "checksum for an unknown file " + index);
        }
        blocksChecked++;
        if (badFiles.contains(index))
        {
            return;
        }
        final Path p = resolved[index];
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            block.clear().limit(desc.dataLength());
            while (block.hasRemaining())
            {
                if (ch.read(block, desc.dataPosition() + block.position()) < 0)
                {
                    break;
                }
            }
            block.flip();
            crc.reset();
            crc.update(block);
            if (block.limit() != desc.dataLength() || (int)crc.getValue() != desc.dataCrc())
            {
                differingBlocks.computeIfAbsent(index, k -> new BlockRanges(block.capacity()))
                    .add(desc.dataPosition(), desc.dataLength());
            }
        }
        catch (final IOException ex)
        {
            differ("unreadable: " + PathGuard.printable(paths[index]) + " (" + ex.getMessage() + ")");
            badFiles.add(index);
        }
    }

    /**
     * One line per file whose content differs, in the donor's manifest order, naming the differing blocks as ranges
     * of block numbers and of byte offsets (the terms of the block diff that {@code --update} would send).
     */
    private void reportBlocks()
    {
        for (final Map.Entry<Integer, BlockRanges> e : differingBlocks.entrySet())
        {
            differ("content differs: " + PathGuard.printable(paths[e.getKey()]) + ": " + e.getValue());
        }
    }

    /**
     * The differing blocks of one file, as ranges of consecutive blocks (the donor sends a file's blocks in order,
     * so a block usually extends the last range; one that does not starts a new one).
     */
    static final class BlockRanges
    {
        /** Ranges listed in full; the rest are counted. */
        static final int MAX_LISTED = 16;

        private final int blockSize;
        /** Per range: first block, last block, first byte offset, end byte offset (exclusive). */
        private final List<long[]> ranges = new ArrayList<>();
        private long blocks;

        BlockRanges(final int blockSize)
        {
            this.blockSize = blockSize;
        }

        void add(final long position, final int length)
        {
            final long n = position / blockSize;
            blocks++;
            final long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
            if (last != null && last[1] + 1 == n)
            {
                last[1] = n;
                last[3] = position + length;
            }
            else
            {
                ranges.add(new long[] { n, n, position, position + length });
            }
        }

        long blocks()
        {
            return blocks;
        }

        @Override
        public String toString()
        {
            ranges.sort((a, b) -> Long.compare(a[0], b[0]));
            final StringBuilder numbers = new StringBuilder(blocks == 1 ? "block " : "blocks ");
            final StringBuilder offsets = new StringBuilder(" (offsets ");
            final int listed = Math.min(MAX_LISTED, ranges.size());
            for (int i = 0; i < listed; i++)
            {
                final long[] r = ranges.get(i);
                final String sep = i == 0 ? "" : ", ";
                numbers.append(sep).append(r[0]);
                if (r[1] != r[0])
                {
                    numbers.append('-').append(r[1]);
                }
                offsets.append(sep).append(r[2]).append('-').append(r[3] - 1);
            }
            if (listed < ranges.size())
            {
                numbers.append(", ... (").append(ranges.size()).append(" ranges, ").append(blocks).append(" blocks)");
                offsets.append(", ...");
            }
            return numbers.append(blocks == 1 ? " differs" : " differ").append(offsets).append("; ").append(blockSize)
                .append("-byte blocks)").toString();
        }
    }

    private void findExtra()
    {
        try (var walk = Files.walk(target))
        {
            walk.filter(p -> !p.equals(target))
                .map(p -> PathBytes.display(PathBytes.of(target.relativize(p))))
                .filter(rel -> !ManifestScanner.reservedTop(rel))
                .filter(rel -> !seen.contains(rel))
                .sorted()
                .forEach(rel -> differ("extra: " + PathGuard.printable(rel)));
        }
        catch (final IOException ex)
        {
            differ("cannot list the copy: " + ex.getMessage());
        }
        if (dev.ferry.engine.recipient.FileTreeRecipient.isIncomplete(target))
        {
            differ("incomplete: the copy still carries .ferry/ (an interrupted clone)");
        }
    }

    private void expect(final int type, final int expected)
    {
        if (type != expected)
        {
            throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "donor sent " + FrameType.name(type) + ", expected " +
                FrameType.name(expected));
        }
    }

    @Override
    public ByteBuffer acquireBody(final Connection c, final int length)
    {
        failure = new FerryException(ErrorCode.BAD_DESCRIPTOR, "the donor sent data during a verify");
        c.close(ErrorCode.BAD_DESCRIPTOR, "data during verify");
        return null;
    }

    @Override
    public void onBody(final Connection c, final ByteBuffer body, final int length)
    {
    }

    @Override
    public void onWritable(final Connection c)
    {
    }

    @Override
    public void onTick(final Connection c, final long nowNanos)
    {
    }

    @Override
    public void onClose(final Connection c, final int errorCode, final String message)
    {
        if (!done && failure == null)
        {
            failure = new FerryException(errorCode == ErrorCode.OK ? ErrorCode.NETWORK : errorCode,
                "the connection to the donor was lost during verify: " + message);
        }
    }
}
