package dev.ferry.core.protocol;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Body of {@code AUTH_CHALLENGE}, {@code AUTH_RESPONSE} and {@code AUTH_OK}: a 32-byte nonce followed by a
 * 32-byte HMAC-SHA256 proof (zeros where a message has no proof, as in the challenge).
 * <pre>
 *  0 32 bytes nonce   32 32 bytes proof
 * </pre>
 * Thread-safe: static methods only.
 */
public final class AuthCodec
{
    public static final int NONCE_OFFSET = 0;
    public static final int PROOF_OFFSET = 32;
    public static final int FIELD_LENGTH = 32;
    public static final int LENGTH = 64;

    private AuthCodec()
    {
    }

    public static int encode(final MutableDirectBuffer b, final int o, final byte[] nonce, final byte[] proof)
    {
        b.setMemory(o, LENGTH, (byte)0);
        b.putBytes(o + NONCE_OFFSET, nonce, 0, Math.min(FIELD_LENGTH, nonce.length));
        if (proof != null)
        {
            b.putBytes(o + PROOF_OFFSET, proof, 0, Math.min(FIELD_LENGTH, proof.length));
        }
        return LENGTH;
    }

    public static int validate(final DirectBuffer b, final int o, final int length)
    {
        return length == LENGTH ? ErrorCode.OK : ErrorCode.MALFORMED_FRAME;
    }

    public static byte[] nonce(final DirectBuffer b, final int o)
    {
        final byte[] n = new byte[FIELD_LENGTH];
        b.getBytes(o + NONCE_OFFSET, n);
        return n;
    }

    public static byte[] proof(final DirectBuffer b, final int o)
    {
        final byte[] p = new byte[FIELD_LENGTH];
        b.getBytes(o + PROOF_OFFSET, p);
        return p;
    }
}
