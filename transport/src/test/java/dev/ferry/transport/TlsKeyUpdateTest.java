package dev.ferry.transport;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TLS 1.3 KeyUpdate in the middle of a stream: the JDK rekeys an AES-GCM connection after 2^37 bytes, which a clone
 * of terabytes meets on every connection. A child JVM with {@code jdk.tls.keyLimits} of 1 MiB sends 32 MiB through
 * the transport ({@link TlsKeyUpdateChild}); every byte must arrive in order, and the JDK's handshake log must show
 * key updates produced and consumed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsKeyUpdateTest
{
    @TempDir
    Path dir;

    @Test
    void streamSurvivesManyKeyUpdates() throws IOException, InterruptedException
    {
        final TestPki.Identity id = new TestPki(dir).selfSigned("rekey", "EC", "ip:127.0.0.1");
        final Path props = Files.writeString(dir.resolve("security.properties"),
            "jdk.tls.keyLimits=AES/GCM/NoPadding KeyUpdate 2^20, ChaCha20-Poly1305 KeyUpdate 2^20\n");
        final Path log = dir.resolve("child.log");
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final Process child = new ProcessBuilder(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-Djava.security.properties=" + props, "-Djavax.net.debug=ssl:handshake",
            "-cp", System.getProperty("java.class.path") + File.pathSeparator + System.getProperty("surefire.test.class.path", ""),
            TlsKeyUpdateChild.class.getName(), id.cert.toString(), id.key.toString(), "32")
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try
        {
            assertTrue(child.waitFor(90, TimeUnit.SECONDS), "the child did not finish");
        }
        finally
        {
            child.destroyForcibly();
        }
        final String out = Files.readString(log, StandardCharsets.UTF_8);
        final String tail = out.substring(Math.max(0, out.length() - 2000));
        assertEquals(0, child.exitValue(), tail);
        assertTrue(out.contains("OK 128 bodies"), tail);
        assertTrue(out.contains("Produced KeyUpdate") && out.contains("Consuming KeyUpdate"),
            "no key update happened: the test is not testing anything");
    }
}
