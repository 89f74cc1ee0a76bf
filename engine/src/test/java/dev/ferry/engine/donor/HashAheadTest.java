package dev.ferry.engine.donor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.HaveCodec;
import dev.ferry.core.protocol.Wire;
import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.DonorStorage;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.diff.HaveSet;
import dev.ferry.engine.diff.PieceHasher;
import dev.ferry.engine.layout.Manifest;
import dev.ferry.engine.layout.TestFiles;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link HashAhead}: the donor's piece hashes computed before {@code COM_HAVE} are the hashes of the file's bytes,
 * the data pass takes them instead of reading (and sends exactly the pieces that differ), only the files an update
 * will compare are planned, and a file changed after it was hashed ahead fails the pass as any changed file does
 * instead of being kept on stale hashes.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HashAheadTest
{
    private static final int BLOCK = 64 * 1024;
    private static final int CHUNK = 256 * 1024;
    /** Two units of {@link HashAhead#UNIT_PIECES} pieces and a short last piece. */
    private static final int BIG = 5 * 1024 * 1024 + 777;

    @TempDir
    Path base;

    private FileTreeDonor donor;

    @AfterEach
    void close()
    {
        if (donor != null)
        {
            donor.close();
        }
    }

    @Test
    void hashesAheadAreThoseOfTheBytesAndTheDataPassSendsOnlyWhatDiffers() throws Exception
    {
        final Path src = tree();
        final byte[] donorBytes = Files.readAllBytes(src.resolve("big.bin"));
        final Locator real = begin(src);
        final HashAhead ahead = hashAheadAndWait(real, Long.MIN_VALUE);
        final int big = indexOf("big.bin");
        final int pieces = (BIG + piece() - 1) / piece();
        assertEquals(2, ahead.files(), "big.bin and other.bin, not the small file");
        assertEquals(pieces + (2 * 1024 * 1024) / piece(), ahead.hashedPieces());

        assertNull(ahead.covering(big, HashAhead.UNIT_PIECES - 1, 2), "a range across two units is not covered");
        final PieceHasher hasher = new PieceHasher();
        final ByteBuffer buffer = ByteBuffer.allocateDirect(piece());
        for (int p = 0; p < pieces; p++)
        {
            final long[] h = ahead.covering(big, p, 1);
            assertNotNull(h, "piece " + p);
            final int len = Math.min(piece(), BIG - p * piece());
            buffer.clear();
            buffer.put(donorBytes, p * piece(), len);
            hasher.hash(buffer, 0, len);
            final int at = 2 * (p % HashAhead.UNIT_PIECES);
            assertEquals(hasher.low(), h[at], "piece " + p);
            assertEquals(hasher.high(), h[at + 1], "piece " + p);
        }
        assertNull(ahead.covering(big, pieces, 1), "past the file's last piece");

        // the copy differs from the donor in pieces 3 and 1100 (the second unit): only those two travel
        final byte[] copy = donorBytes.clone();
        copy[3 * piece() + 10] ^= 1;
        copy[1100 * piece()] ^= 1;
        final Locator data = restartWith(real, have(big, copy));
        final Collector c = drain(data);
        assertEquals(List.of(3L * piece(), 1100L * piece()), c.offsets(big), "pieces sent");
        for (final long at : c.offsets(big))
        {
            assertArrayEquals(java.util.Arrays.copyOfRange(donorBytes, (int)at, (int)at + piece()),
                c.bytesAt(big, at), "the donor's bytes at " + at);
        }
        assertTrue(donor.hashedAheadUsed() >= pieces - 1, "the pass took the hashes computed ahead: " +
            donor.hashedAheadUsed());
    }

    @Test
    void onlyFilesNewerThanTheCopysNewestAreHashed() throws Exception
    {
        final Path src = tree();
        final long old = Files.getLastModifiedTime(src.resolve("other.bin")).to(TimeUnit.NANOSECONDS);
        Files.setLastModifiedTime(src.resolve("big.bin"), FileTime.from(old + 5_000_000_000L, TimeUnit.NANOSECONDS));
        Thread.sleep(60); // past the racy window of the write
        final Locator real = begin(src);
        final HashAhead ahead = hashAheadAndWait(real, old);
        assertEquals(1, ahead.files(), "big.bin only: other.bin's mtime is the copy's newest");
        assertNull(ahead.covering(indexOf("other.bin"), 0, 1));
        assertNotNull(ahead.covering(indexOf("big.bin"), 0, 1));
    }

    @Test
    void aFileChangedAfterItWasHashedAheadFailsThePassInsteadOfKeepingStaleHashes() throws Exception
    {
        final Path src = tree();
        final Path file = src.resolve("big.bin");
        final byte[] before = Files.readAllBytes(file);
        final Locator real = begin(src);
        hashAheadAndWait(real, Long.MIN_VALUE);
        final int big = indexOf("big.bin");
        // the copy has the old bytes; the donor's file now differs in piece 7, written after the hashes ahead
        final byte[] changed = before.clone();
        changed[7 * piece()] ^= 1;
        TestFiles.overwrite(file, 7L * piece(), new byte[]{ changed[7 * piece()] }, false);
        final Locator data = restartWith(real, have(big, before));
        final FerryException ex = assertThrows(FerryException.class, () -> drain(data));
        assertEquals(ErrorCode.name(ErrorCode.FILE_CHANGED), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains("'big.bin'"), ex.getMessage());
    }

    @Test
    void aFileChangedBeforeItWasHashedAheadIsLeftToTheCursor() throws Exception
    {
        final Path src = tree();
        final Locator real = begin(src);
        Files.setLastModifiedTime(src.resolve("big.bin"), FileTime.fromMillis(1000));
        final HashAhead ahead = hashAheadAndWait(real, Long.MIN_VALUE);
        assertNull(ahead.covering(indexOf("big.bin"), 0, 1), "not the file the snapshot saw: not hashed");
        assertNotNull(ahead.covering(indexOf("other.bin"), 0, 1));
    }

    @Test
    void theJvmsBudgetIsTakenAsUnitsAreHashedAndGivenBackWhenTheSnapshotEnds() throws Exception
    {
        final long before = HashAhead.BUDGET.piecesLeft();
        final int threads = HashAhead.BUDGET.threadsFree();
        final Locator real = begin(tree());
        final HashAhead ahead = hashAheadAndWait(real, Long.MIN_VALUE);
        assertEquals(before - ahead.hashedPieces(), HashAhead.BUDGET.piecesLeft(), "hashes held");
        assertEquals(threads, HashAhead.BUDGET.threadsFree(), "threads given back when they end");
        donor.close();
        donor = null;
        assertEquals(before, HashAhead.BUDGET.piecesLeft(), "given back with the snapshot");
    }

    @Test
    void aRestartWithoutHaveDropsWhatWasHashedAhead() throws Exception
    {
        final long before = HashAhead.BUDGET.piecesLeft();
        final Locator real = begin(tree());
        hashAheadAndWait(real, Long.MIN_VALUE);
        final AppliedState nothing = new AppliedState(donor.plan().chunkCount());
        final Locator data = donor.begin(CloneMode.RESTART, new Locator(Locator.ENGINE_FILE_TREE, Locator.KIND_RESTART,
            real.protocol(), real.protocol(), real.snapshotId(), 0, Stage.FILE_COPY, nothing));
        assertNull(donor.ahead(), "nothing to compare: dropped");
        assertEquals(before, HashAhead.BUDGET.piecesLeft());
        drain(data); // and the pass sends every file as usual
        assertEquals(0, donor.hashedAheadUsed());
    }

    @Test
    void aBudgetThatHoldsNothingHashesNothingAndThePassStillSendsOnlyWhatDiffers() throws Exception
    {
        final Path src = tree();
        final byte[] donorBytes = Files.readAllBytes(src.resolve("big.bin"));
        final Locator real = begin(src);
        final HashAhead ahead = new HashAhead(src, donor.manifest(), piece(), Long.MIN_VALUE,
            new HashAhead.Budget(100, 1)).start();
        ahead.join(20_000);
        assertEquals(0, ahead.files(), "no file fits 100 pieces");
        final int big = indexOf("big.bin");
        final byte[] copy = donorBytes.clone();
        copy[5 * piece()] ^= 1;
        final Collector c = drain(restartWith(real, have(big, copy)));
        assertEquals(List.of(5L * piece()), c.offsets(big));
    }

    // helpers

    private static int piece()
    {
        return DescriptorFlyweight.pieceSize(BLOCK);
    }

    private Path tree() throws IOException
    {
        final Path src = Files.createDirectories(base.resolve("src"));
        Files.write(src.resolve("big.bin"), TestFiles.randomBytes(1, BIG));
        Files.write(src.resolve("other.bin"), TestFiles.randomBytes(2, 2 * 1024 * 1024));
        Files.write(src.resolve("small.bin"), TestFiles.randomBytes(3, 100_000));
        final FileTime old = FileTime.fromMillis(System.currentTimeMillis() - 60_000);
        for (final String name : new String[]{ "big.bin", "other.bin", "small.bin" })
        {
            Files.setLastModifiedTime(src.resolve(name), old);
        }
        return src;
    }

    private Locator begin(final Path src)
    {
        final CloneSettings settings = new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK).checksum(true).conclude();
        donor = new FileTreeDonor(src, settings);
        final Locator real = donor.begin(CloneMode.START,
            Locator.version(Locator.ENGINE_FILE_TREE, Wire.PROTOCOL_MIN, Wire.PROTOCOL_MAX));
        assertEquals(Locator.KIND_REAL, real.kind());
        return real;
    }

    private HashAhead hashAheadAndWait(final Locator real, final long newerThan) throws InterruptedException
    {
        donor.hashAhead(real, newerThan);
        final HashAhead ahead = donor.ahead();
        assertNotNull(ahead);
        ahead.join(20_000);
        return ahead;
    }

    private int indexOf(final String path)
    {
        for (final Manifest.Entry e : donor.manifest().entries())
        {
            if (e.path().equals(path))
            {
                return e.index;
            }
        }
        throw new AssertionError("no " + path);
    }

    /** What a recipient holding {@code copy} at file {@code file} sends in COM_HAVE. */
    private HaveSet have(final int file, final byte[] copy)
    {
        final int pieces = (copy.length + piece() - 1) / piece();
        final UnsafeBuffer b = new UnsafeBuffer(ByteBuffer.allocate(HaveCodec.lengthFor(pieces)));
        HaveCodec.encodeHeader(b, 0, file, 0, pieces);
        final PieceHasher hasher = new PieceHasher();
        final ByteBuffer buffer = ByteBuffer.allocateDirect(piece());
        for (int p = 0; p < pieces; p++)
        {
            final int len = Math.min(piece(), copy.length - p * piece());
            buffer.clear();
            buffer.put(copy, p * piece(), len);
            hasher.hash(buffer, 0, len);
            HaveCodec.putHash(b, 0, p, hasher.low(), hasher.high());
        }
        final HaveSet h = new HaveSet(1 << 20);
        h.add(b, 0);
        return h.fitTo(donor::piecesOf);
    }

    /** The data pass of an update: the COM_HAVE installed, then a restart for every chunk. */
    private Locator restartWith(final Locator real, final HaveSet have)
    {
        donor.have(have);
        final AppliedState nothing = new AppliedState(donor.plan().chunkCount());
        return donor.begin(CloneMode.RESTART, new Locator(Locator.ENGINE_FILE_TREE, Locator.KIND_RESTART,
            real.protocol(), real.protocol(), real.snapshotId(), 0, Stage.FILE_COPY, nothing));
    }

    private Collector drain(final Locator locator)
    {
        final Collector c = new Collector();
        for (int calls = 0; calls < 1_000_000; calls++)
        {
            if (donor.copy(locator, 0, c) == DonorStorage.COPY_DONE)
            {
                return c;
            }
        }
        throw new AssertionError("the donor never finished");
    }

    /** Records, per file, the offset and bytes of every piece a DATA frame carries. */
    private static final class Collector extends OfferedBytes
    {
        private final List<long[]> pieces = new ArrayList<>(); // file, offset
        private final List<byte[]> bytes = new ArrayList<>();

        List<Long> offsets(final int file)
        {
            final List<Long> out = new ArrayList<>();
            for (final long[] p : pieces)
            {
                if (p[0] == file)
                {
                    out.add(p[1]);
                }
            }
            return out;
        }

        byte[] bytesAt(final int file, final long at)
        {
            for (int i = 0; i < pieces.size(); i++)
            {
                if (pieces.get(i)[0] == file && pieces.get(i)[1] == at)
                {
                    return bytes.get(i);
                }
            }
            throw new AssertionError("no piece at " + at);
        }

        @Override
        void onData(final DirectBuffer descriptor, final int offset, final int length, final byte[] body, final int n)
        {
            d.wrap(descriptor, offset, length);
            assertEquals(DescriptorFlyweight.TYPE_DATA, d.type());
            final int size = DescriptorFlyweight.pieceSize(BLOCK);
            final long mask = d.pieceMask() == DescriptorFlyweight.ALL_PIECES ?
                DescriptorFlyweight.allPieces(d.dataLength(), size) : d.pieceMask();
            int at = 0;
            for (int i = 0; i < DescriptorFlyweight.pieceCount(d.dataLength(), size); i++)
            {
                if ((mask & (1L << i)) != 0)
                {
                    final int len = Math.min(size, d.dataLength() - i * size);
                    pieces.add(new long[]{ d.fileIndex(), d.dataPosition() + (long)i * size });
                    bytes.add(java.util.Arrays.copyOfRange(body, at, at + len));
                    at += len;
                }
            }
            assertEquals(n, at, "the body is the masked pieces");
        }
    }
}
