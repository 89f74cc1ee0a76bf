package dev.ferry.core.protocol;

import java.util.LinkedHashMap;
import java.util.Map;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import dev.ferry.core.spi.AppliedState;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Encoders that once produced output their own validator rejected, or that decoded to something else. Each test
 * states the one outcome that is right: the encoding validates and decodes back to what was encoded, or the encoder
 * refuses with a named {@link ErrorCode}.
 */
class EncoderRegressionTest
{
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[16 * 1024]);

    @Test
    void configEncoderRefusesAnOverlongValueOrKeyWithInternal()
    {
        final Map<String, String> longValue = new LinkedHashMap<>();
        longValue.put("ferry.target", "/" + "d".repeat(ConfigCodec.MAX_VALUE_BYTES));
        assertRefused(longValue, "ferry.target");

        final String key = "k".repeat(ConfigCodec.MAX_KEY_BYTES + 1);
        final Map<String, String> longKey = new LinkedHashMap<>();
        longKey.put(key, "v");
        assertRefused(longKey, key);
    }

    @Test
    void configEncoderKeepsAKeyAndValueOfExactlyTheLimit()
    {
        final Map<String, String> config = new LinkedHashMap<>();
        config.put("k".repeat(ConfigCodec.MAX_KEY_BYTES), "v".repeat(ConfigCodec.MAX_VALUE_BYTES));
        final int length = ConfigCodec.encode(buffer, 0, config);
        assertEquals(4 + 2 * Wire.STRING_LENGTH_SIZE + ConfigCodec.MAX_KEY_BYTES + ConfigCodec.MAX_VALUE_BYTES, length);
        assertEquals(ErrorCode.OK, ConfigCodec.validate(buffer, 0, length));
        assertEquals(config, ConfigCodec.decode(buffer, 0));
    }

    private void assertRefused(final Map<String, String> config, final String key)
    {
        final FerryException refused = assertThrows(FerryException.class, () -> ConfigCodec.encode(buffer, 0, config));
        assertEquals(ErrorCode.name(ErrorCode.INTERNAL), ErrorCode.name(refused.code()), refused.getMessage());
        assertTrue(refused.getMessage().contains("'" + key + "'"), refused.getMessage());
    }

    @Test
    void helloCutsAnOverlongVersionOnACharacterBoundary()
    {
        final String version = "v".repeat(HelloCodec.MAX_VERSION_BYTES - 1) + "\u00e9"; // 129 bytes
        final int length = HelloCodec.encode(buffer, 0, 1, 1, HelloCodec.ROLE_CLIENT, 0, version);
        assertEquals(ErrorCode.OK, HelloCodec.validate(buffer, 0, length));
        final String decoded = HelloCodec.softwareVersion(buffer, 0);
        assertEquals("v".repeat(HelloCodec.MAX_VERSION_BYTES - 1), decoded);
    }

    @Test
    void restartLocatorWithoutAppliedStateCarriesAnEmptyOneAndRoundTrips()
    {
        final Locator real = Locator.real(Locator.ENGINE_FILE_TREE, 1, 42, 0, Stage.FILE_COPY);
        final Locator restart = real.restart(null);
        assertEquals(0, restart.applied().chunkCount(), "nothing applied");
        assertEquals(real.restart(new AppliedState(0)), restart);

        final int length = LocatorCodec.encode(buffer, 0, restart);
        assertEquals(LocatorCodec.FIXED_LENGTH + 8, length, "fixed part, chunk count 0, partial count 0");
        assertEquals(length, LocatorCodec.encodedLength(restart));
        assertEquals(ErrorCode.OK, LocatorCodec.validate(buffer, 0, length));
        assertEquals(restart, LocatorCodec.decode(buffer, 0));
    }

    @Test
    void onlyARestartLocatorCarriesAppliedState()
    {
        final AppliedState state = new AppliedState(3);
        state.onApplied(1, 2, false);
        final Locator real = new Locator(Locator.ENGINE_FILE_TREE, Locator.KIND_REAL, 1, 1, 42, 0, Stage.FILE_COPY, state);
        assertNull(real.applied(), "the wire carries no applied state for a real locator");

        final int length = LocatorCodec.encode(buffer, 0, real);
        assertEquals(LocatorCodec.FIXED_LENGTH, length);
        assertEquals(ErrorCode.OK, LocatorCodec.validate(buffer, 0, length));
        assertEquals(real, LocatorCodec.decode(buffer, 0));
    }
}
