package dev.ferry.core.protocol;

import java.util.LinkedHashMap;
import java.util.Map;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.Stage;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Encoders whose output their own validator rejects, or decodes to something else. Each test states the expected
 * behaviour and fails against the current main sources; each is disabled so the build stays green until the main
 * source was fixed; they stay as regression tests.
 * <pre>
 * mvn -q -B test -pl core -Dtest=KnownBugsTest -Djunit.jupiter.conditions.deactivate=org.junit.*DisabledCondition
 * </pre>
 */
class EncoderRegressionTest
{
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[16 * 1024]);

    @Test
    void configEncoderNeverProducesABodyItsValidatorRejects()
    {
        final Map<String, String> longValue = new LinkedHashMap<>();
        longValue.put("ferry.target", "/" + "d".repeat(ConfigCodec.MAX_VALUE_BYTES));
        assertEncodedOrRefused(longValue);

        final Map<String, String> longKey = new LinkedHashMap<>();
        longKey.put("k".repeat(ConfigCodec.MAX_KEY_BYTES + 1), "v");
        assertEncodedOrRefused(longKey);
    }

    private void assertEncodedOrRefused(final Map<String, String> config)
    {
        final int length;
        try
        {
            length = ConfigCodec.encode(buffer, 0, config);
        }
        catch (final FerryException refused)
        {
            return; // refusing, as encode does for more than MAX_PAIRS pairs, is fine
        }
        assertEquals(ErrorCode.OK, ConfigCodec.validate(buffer, 0, length), "encoded but invalid");
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
    void restartLocatorWithoutAppliedStateIsEncodedValidlyOrRefused()
    {
        final Locator restart = Locator.real(Locator.ENGINE_FILE_TREE, 1, 42, 0, Stage.FILE_COPY).restart(null);
        final int length;
        try
        {
            length = LocatorCodec.encode(buffer, 0, restart);
        }
        catch (final RuntimeException refused)
        {
            return;
        }
        assertEquals(ErrorCode.OK, LocatorCodec.validate(buffer, 0, length));
    }
}
