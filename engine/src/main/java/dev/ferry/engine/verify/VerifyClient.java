package dev.ferry.engine.verify;

import dev.ferry.engine.TlsHints;
import dev.ferry.engine.ValidatingHandler;
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
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
 * donor computes checksums, no file bytes cross the wire). Reports missing, extra and differing entries. Runs its
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
    private String[] paths;
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
            throw new FerryException(ErrorCode.NETWORK, "cannot verify against donor " + donor + ": " + ex.getMessage(), ex);
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
            findExtra();
        }
        return differences;
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
        final String path = desc.path();
        PathGuard.check(path);
        paths[index] = path;
        sizes[index] = desc.fileSize();
        seen.add(path);
        entriesChecked++;
        final Path p = target.resolve(path);
        final String shown = PathGuard.printable(path);
        try
        {
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS))
            {
                differ("missing: " + shown);
                badFiles.add(index);
                return;
            }
            final Map<String, Object> a = Files.readAttributes(p,
                "unix:mode,size,lastModifiedTime,isDirectory,isSymbolicLink,isRegularFile", LinkOption.NOFOLLOW_LINKS);
            final int type = Boolean.TRUE.equals(a.get("isSymbolicLink")) ? DescriptorFlyweight.FILE_SYMLINK :
                Boolean.TRUE.equals(a.get("isDirectory")) ? DescriptorFlyweight.FILE_DIRECTORY :
                Boolean.TRUE.equals(a.get("isRegularFile")) ? DescriptorFlyweight.FILE_REGULAR : 0;
            if (type != desc.fileType())
            {
                differ("type differs: " + shown);
                badFiles.add(index);
                return;
            }
            if (type == DescriptorFlyweight.FILE_SYMLINK)
            {
                final String link = Files.readSymbolicLink(p).toString();
                if (!link.equals(desc.linkTarget()))
                {
                    differ("symlink target differs: " + shown + " -> " + link + ", donor has " + desc.linkTarget());
                }
                return;
            }
            if ((((Integer)a.get("mode")) & 07777) != desc.mode())
            {
                differ("mode differs: " + shown);
            }
            if (((FileTime)a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS) != desc.mtimeNanos())
            {
                differ("mtime differs: " + shown);
            }
            if (type == DescriptorFlyweight.FILE_REGULAR && (Long)a.get("size") != desc.fileSize())
            {
                differ("size differs: " + shown + " has " + a.get("size") + " bytes, donor has " + desc.fileSize());
                badFiles.add(index);
            }
        }
        catch (final IOException ex)
        {
            differ("unreadable: " + shown + " (" + ex.getMessage() + ")");
            badFiles.add(index);
        }
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
        final Path p = target.resolve(paths[index]);
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
                differ("content differs: " + PathGuard.printable(paths[index]) + " at offset " + desc.dataPosition());
                badFiles.add(index);
            }
        }
        catch (final IOException ex)
        {
            differ("unreadable: " + PathGuard.printable(paths[index]) + " (" + ex.getMessage() + ")");
            badFiles.add(index);
        }
    }

    private void findExtra()
    {
        try (var walk = Files.walk(target))
        {
            walk.filter(p -> !p.equals(target))
                .map(p -> target.relativize(p).toString())
                .filter(rel -> !rel.equals(ManifestScanner.STATE_DIR) && !rel.startsWith(ManifestScanner.STATE_DIR + "/"))
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
