package dev.ferry.engine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import dev.ferry.core.protocol.AuthCodec;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;

/**
 * A shared secret and the challenge-response built on it, so the secret itself never crosses the wire:
 * <pre>
 * donor  -> client  AUTH_CHALLENGE  nonce_d
 * client -> donor   AUTH_RESPONSE   nonce_c, HMAC-SHA256(secret, "ferry client" | nonce_d | nonce_c)
 * donor  -> client  AUTH_OK         HMAC-SHA256(secret, "ferry donor" | nonce_c | nonce_d)   (the donor proves it too)
 * </pre>
 * Proofs are compared in constant time. Immutable; thread-safe.
 */
public final class SharedSecret
{
    /** Fewest bytes a secret file must hold. */
    public static final int MIN_BYTES = 16;

    private static final byte[] CLIENT_LABEL = "ferry client".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONOR_LABEL = "ferry donor".getBytes(StandardCharsets.US_ASCII);

    private final byte[] secret;
    private final SecureRandom random = new SecureRandom();

    public SharedSecret(final byte[] secret)
    {
        if (secret.length < MIN_BYTES)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "the shared secret has " + secret.length +
                " bytes; use at least " + MIN_BYTES + " (e.g. head -c 32 /dev/urandom | base64 > secret)");
        }
        this.secret = secret.clone();
    }

    /**
     * Read a secret file; surrounding whitespace (a trailing newline) is not part of the secret.
     */
    public static SharedSecret fromFile(final Path file)
    {
        try
        {
            final String text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).strip();
            return new SharedSecret(text.getBytes(StandardCharsets.UTF_8));
        }
        catch (final IOException ex)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "cannot read the secret file " + file + ": " +
                ex.getMessage(), ex);
        }
    }

    public byte[] nonce()
    {
        final byte[] n = new byte[AuthCodec.FIELD_LENGTH];
        random.nextBytes(n);
        return n;
    }

    public byte[] clientProof(final byte[] donorNonce, final byte[] clientNonce)
    {
        return hmac(CLIENT_LABEL, donorNonce, clientNonce);
    }

    public byte[] donorProof(final byte[] donorNonce, final byte[] clientNonce)
    {
        return hmac(DONOR_LABEL, clientNonce, donorNonce);
    }

    /**
     * Constant-time comparison.
     */
    public static boolean matches(final byte[] expected, final byte[] actual)
    {
        return MessageDigest.isEqual(expected, actual);
    }

    private byte[] hmac(final byte[] label, final byte[] a, final byte[] b)
    {
        try
        {
            final Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update(label);
            mac.update(a);
            mac.update(b);
            return mac.doFinal();
        }
        catch (final GeneralSecurityException ex)
        {
            throw new FerryException(ErrorCode.INTERNAL, "HMAC-SHA256 is not available: " + ex, ex);
        }
    }

    @Override
    public String toString()
    {
        return "SharedSecret{" + secret.length + " bytes}";
    }
}
