package dev.ferry.engine.recipient;

import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link DonorConfig}: every quantity of a donor's COM_RES_CONFIG within its documented bounds, or CONFIG_MISMATCH
 * naming the key, the value and the bound.
 */
class DonorConfigTest
{
    private static final int FRAME = 16 * 1024 * 1024;

    static Map<String, String> good()
    {
        final Map<String, String> c = new LinkedHashMap<>();
        c.put("engine", "file-tree");
        c.put("format", "1");
        c.put("block_size", "1048576");
        c.put("chunk_size", "67108864");
        c.put("files_per_chunk", "4096");
        c.put("checksum", "crc32c");
        c.put("restart_window_ms", "300000");
        return c;
    }

    @Test
    void theDonorsDefaultsAreAccepted()
    {
        final DonorConfig c = DonorConfig.check(good(), true, FRAME);
        assertEquals(1 << 20, c.blockSize);
        assertEquals(64L << 20, c.chunkSize);
        assertEquals(4096, c.filesPerChunk);
        assertTrue(c.checksum);
        assertEquals(300_000, c.restartWindowMs);
        final Map<String, String> noWindow = good();
        noWindow.remove("restart_window_ms");
        assertEquals(-1, DonorConfig.check(noWindow, false, FRAME).restartWindowMs);
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "chunk_size, 0, donor chunk size 0 is not usable",
        "chunk_size, -1, donor chunk size -1 is not usable",
        "chunk_size, 1052672, donor chunk size 1052672 is not usable",
        "chunk_size, 524288, donor chunk size 524288 is not usable",
        "chunk_size, 9223372036854775807, donor chunk size 9223372036854775807 is not usable",
        "chunk_size, 1e9, donor chunk size '1e9' is not a number",
        "block_size, 0, donor block size 0 is not usable",
        "block_size, 12288, donor block size 12288 is not usable",
        "block_size, 2048, donor block size 2048 is not usable",
        "block_size, 134217728, donor block size 134217728 is not usable",
        "block_size, 99999999999, donor block size 99999999999 is out of range",
        "files_per_chunk, 0, donor files per chunk 0 is out of range",
        "files_per_chunk, -3, donor files per chunk -3 is out of range",
        "files_per_chunk, 1048577, donor files per chunk 1048577 is out of range",
        "restart_window_ms, -2, donor restart window ms -2 is out of range",
        "restart_window_ms, 604800001, donor restart window ms 604800001 is out of range",
        "engine, tar, donor storage engine is 'tar'",
        "format, 2, donor format version 2 is not supported",
        "checksum, md5, donor checksum 'md5' is unknown" })
    void aValueOutsideItsBoundsIsConfigMismatchNamingIt(final String key, final String value, final String message)
    {
        final Map<String, String> c = good();
        c.put(key, value);
        final FerryException ex = assertThrows(FerryException.class, () -> DonorConfig.check(c, false, FRAME));
        assertEquals(ErrorCode.name(ErrorCode.CONFIG_MISMATCH), ErrorCode.name(ex.code()), ex.getMessage());
        assertTrue(ex.getMessage().contains(message), ex.getMessage());
    }

    @ParameterizedTest(name = "without {0}")
    @CsvSource({ "block_size", "chunk_size", "files_per_chunk" })
    void aMissingLayoutKeyIsConfigMismatch(final String key)
    {
        final Map<String, String> c = good();
        c.remove(key);
        final FerryException ex = assertThrows(FerryException.class, () -> DonorConfig.check(c, false, FRAME));
        assertEquals(ErrorCode.CONFIG_MISMATCH, ex.code());
        assertTrue(ex.getMessage().contains("has no " + key), ex.getMessage());
    }

    @Test
    void aBlockAboveTheFrameCapIsRefusedAndDonorTextIsEscaped()
    {
        final Map<String, String> c = good();
        c.put("block_size", "16777216");
        c.put("chunk_size", "33554432");
        assertThrows(FerryException.class, () -> DonorConfig.check(c, false, FRAME));
        final Map<String, String> e = good();
        e.put("engine", "x\n\u001b[31m");
        final FerryException ex = assertThrows(FerryException.class, () -> DonorConfig.check(e, false, FRAME));
        assertTrue(ex.getMessage().contains("'x\\x0a\\x1b[31m'"), ex.getMessage());
        assertFalse(ex.getMessage().contains("\n"));
    }

    @Test
    void noChecksumIsRefusedOnlyWhenRequired()
    {
        final Map<String, String> c = good();
        c.put("checksum", "none");
        assertFalse(DonorConfig.check(c, false, FRAME).checksum);
        assertEquals(ErrorCode.CONFIG_MISMATCH,
            assertThrows(FerryException.class, () -> DonorConfig.check(c, true, FRAME)).code());
    }
}
