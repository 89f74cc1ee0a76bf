package dev.ferry.core.config;

import java.util.function.UnaryOperator;

import org.junit.jupiter.api.Test;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameHeader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CloneSettings#conclude()} accepts the defaults and the edges of each range, and refuses each bad value with
 * a {@link FerryException} that names the property and the value. A disabled test records a known bug in the main
 * source; see {@code dev.ferry.core.protocol.KnownBugsTest} for how to run it.
 */
class CloneSettingsTest
{
    private static final int MIB = 1024 * 1024;

    @Test
    void defaultsConclude()
    {
        final CloneSettings s = new CloneSettings();
        assertSame(s, s.conclude());
        assertEquals(32L * MIB, s.chunkSize());
        assertEquals(MIB, s.blockSize());
        assertEquals(FrameHeader.DEFAULT_MAX_FRAME_LENGTH, s.maxFrameLength());
        assertEquals(4096, s.filesPerChunk());
        assertEquals(64 * 1024, s.smallBlock());
        assertEquals(0x7FFF_F000L, s.transferCap());
        assertTrue(s.checksum());
        assertTrue(s.sync());
        assertTrue(s.toString().contains("block=1048576"));
    }

    @Test
    void edgesOfEveryRangeConclude()
    {
        new CloneSettings().blockSize(4096).chunkSize(4096).maxFrameLength(8192).smallBlock(0).filesPerChunk(1)
            .transferCap(1).checksum(false).sync(false).conclude();
        new CloneSettings().blockSize(64 * MIB).chunkSize(128L * MIB).maxFrameLength(64 * MIB + 4096)
            .smallBlock(64 * MIB).conclude();
        new CloneSettings().blockSize(4096).chunkSize(4096L * Integer.MAX_VALUE).smallBlock(4096).conclude();
    }

    @Test
    void blockSizeMustBeAPowerOfTwoFrom4KiBTo64MiB()
    {
        for (final int v : new int[]{ 0, -4096, 2048, 4095, 3 * 4096, MIB + 1, 128 * MIB, Integer.MIN_VALUE })
        {
            assertRefused(CloneSettings.BLOCK_SIZE_PROP, v, (s) -> s.blockSize(v).chunkSize(256L * MIB)
                .maxFrameLength(Integer.MAX_VALUE));
        }
    }

    @Test
    void chunkSizeMustBeAMultipleOfTheBlockSize()
    {
        for (final long v : new long[]{ 0, -MIB, MIB - 1, MIB + 4096, 64L * MIB + 1 })
        {
            assertRefused(CloneSettings.CHUNK_SIZE_PROP, v, (s) -> s.chunkSize(v));
        }
        final long tooManyBlocks = 4096L * (Integer.MAX_VALUE + 1L);
        assertRefused(CloneSettings.CHUNK_SIZE_PROP, tooManyBlocks, (s) -> s.blockSize(4096).chunkSize(tooManyBlocks));
    }

    @Test
    void transferCapMustBePositive()
    {
        assertRefused(CloneSettings.TRANSFER_CAP_PROP, 0, (s) -> s.transferCap(0));
        assertRefused(CloneSettings.TRANSFER_CAP_PROP, -1, (s) -> s.transferCap(-1));
    }

    @Test
    void maxFrameMustHoldABlockPlusRoom()
    {
        assertRefused(CloneSettings.MAX_FRAME_PROP, MIB + 4095, (s) -> s.maxFrameLength(MIB + 4095));
        assertRefused(CloneSettings.MAX_FRAME_PROP, 0, (s) -> s.maxFrameLength(0));
        assertRefused(CloneSettings.MAX_FRAME_PROP, -1, (s) -> s.maxFrameLength(-1));
        // the default cap is too small for the largest block size: the message must say so, not the block size
        assertRefused(CloneSettings.MAX_FRAME_PROP, FrameHeader.DEFAULT_MAX_FRAME_LENGTH,
            (s) -> s.blockSize(64 * MIB).chunkSize(64L * MIB).maxFrameLength(FrameHeader.DEFAULT_MAX_FRAME_LENGTH));
    }

    @Test
    void filesPerChunkMustBePositive()
    {
        assertRefused(CloneSettings.FILES_PER_CHUNK_PROP, 0, (s) -> s.filesPerChunk(0));
        assertRefused(CloneSettings.FILES_PER_CHUNK_PROP, -5, (s) -> s.filesPerChunk(-5));
    }

    @Test
    void smallBlockMustFitInABlock()
    {
        assertRefused(CloneSettings.SMALL_BLOCK_PROP, -1, (s) -> s.smallBlock(-1));
        assertRefused(CloneSettings.SMALL_BLOCK_PROP, MIB + 1, (s) -> s.smallBlock(MIB + 1));
    }

    @Test
    void propertiesSetTheDefaultsOfANewInstance()
    {
        final String old = System.getProperty(CloneSettings.BLOCK_SIZE_PROP);
        System.setProperty(CloneSettings.BLOCK_SIZE_PROP, "8192");
        try
        {
            assertEquals(8192, new CloneSettings().blockSize());
            System.setProperty(CloneSettings.BLOCK_SIZE_PROP, "12288");
            final FerryException e = assertThrows(FerryException.class, () -> new CloneSettings().conclude());
            assertTrue(e.getMessage().contains(CloneSettings.BLOCK_SIZE_PROP + "=12288"), e.getMessage());
        }
        finally
        {
            if (old == null)
            {
                System.clearProperty(CloneSettings.BLOCK_SIZE_PROP);
            }
            else
            {
                System.setProperty(CloneSettings.BLOCK_SIZE_PROP, old);
            }
        }
    }

    @Test
    void unparsablePropertyIsRefusedNotIgnored()
    {
        final String old = System.getProperty(CloneSettings.BLOCK_SIZE_PROP);
        System.setProperty(CloneSettings.BLOCK_SIZE_PROP, "1M");
        try
        {
            final FerryException e = assertThrows(FerryException.class, () -> new CloneSettings().conclude());
            assertTrue(e.getMessage().contains(CloneSettings.BLOCK_SIZE_PROP), e.getMessage());
        }
        finally
        {
            if (old == null)
            {
                System.clearProperty(CloneSettings.BLOCK_SIZE_PROP);
            }
            else
            {
                System.setProperty(CloneSettings.BLOCK_SIZE_PROP, old);
            }
        }
    }

    private static void assertRefused(final String property, final long value, final UnaryOperator<CloneSettings> setup)
    {
        final CloneSettings settings = setup.apply(new CloneSettings());
        final FerryException e = assertThrows(FerryException.class, settings::conclude, property + "=" + value);
        assertEquals(ErrorCode.CONFIG_MISMATCH, e.code());
        assertTrue(e.getMessage().contains(property + "=" + value),
            "message must name " + property + " and the value " + value + ": " + e.getMessage());
        for (final String other : new String[]{ CloneSettings.BLOCK_SIZE_PROP, CloneSettings.CHUNK_SIZE_PROP,
            CloneSettings.TRANSFER_CAP_PROP, CloneSettings.MAX_FRAME_PROP, CloneSettings.FILES_PER_CHUNK_PROP,
            CloneSettings.SMALL_BLOCK_PROP })
        {
            if (!other.equals(property))
            {
                assertTrue(!e.getMessage().contains(other), "message names " + other + " too: " + e.getMessage());
            }
        }
        assertTrue(e.describe().startsWith("CONFIG_MISMATCH: setting " + property), e.describe());
    }
}
