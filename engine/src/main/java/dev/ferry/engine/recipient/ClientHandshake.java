package dev.ferry.engine.recipient;

import dev.ferry.engine.SharedSecret;

import org.agrona.DirectBuffer;

import dev.ferry.core.protocol.AuthCodec;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.FrameType;
import dev.ferry.core.protocol.HelloCodec;
import dev.ferry.transport.Connection;

/**
 * The client's side of the regular session before {@code COM_CLONE}: the donor's HELLO, then, when the donor requires
 * it, AUTH_CHALLENGE / AUTH_RESPONSE / AUTH_OK (see {@link SharedSecret}). Used by clone tasks and by verify.
 * Loop thread only; one per connection.
 */
public final class ClientHandshake
{
    private final SharedSecret secret;
    private int step;
    private byte[] donorNonce;
    private byte[] clientNonce;

    /**
     * @param secret the shared secret, or null when none is configured.
     */
    public ClientHandshake(final SharedSecret secret)
    {
        this.secret = secret;
    }

    /**
     * Take the next frame of the handshake.
     *
     * @return true when the handshake is complete and COM_CLONE may follow.
     * @throws FerryException NOT_FERRY, AUTH_FAILED or UNEXPECTED_COMMAND.
     */
    public boolean onFrame(final Connection c, final int type, final DirectBuffer body, final int offset)
    {
        switch (step)
        {
            case 0:
            {
                expect(type, FrameType.HELLO);
                if (HelloCodec.role(body, offset) != HelloCodec.ROLE_DONOR)
                {
                    throw new FerryException(ErrorCode.NOT_FERRY, "the peer at " + c.peer() + " is not a donor");
                }
                final boolean required = (HelloCodec.features(body, offset) & HelloCodec.FEATURE_AUTH_REQUIRED) != 0;
                if (required && secret == null)
                {
                    throw new FerryException(ErrorCode.AUTH_FAILED, "the donor at " + c.peer() +
                        " requires a shared secret: pass --secret-file");
                }
                if (!required && secret != null)
                {
                    throw new FerryException(ErrorCode.AUTH_FAILED, "the donor at " + c.peer() + " does not " +
                        "authenticate itself although a secret is configured here; refusing (it may be an impostor)");
                }
                step = required ? 1 : 3;
                return !required;
            }
            case 1:
            {
                expect(type, FrameType.AUTH_CHALLENGE);
                donorNonce = AuthCodec.nonce(body, offset);
                clientNonce = secret.nonce();
                final int at = ClientTask.claim(c, FrameType.AUTH_RESPONSE, AuthCodec.LENGTH);
                AuthCodec.encode(c.sendBuffer(), at, clientNonce, secret.clientProof(donorNonce, clientNonce));
                c.flush();
                step = 2;
                return false;
            }
            case 2:
            {
                expect(type, FrameType.AUTH_OK);
                if (!SharedSecret.matches(secret.donorProof(donorNonce, clientNonce), AuthCodec.proof(body, offset)))
                {
                    throw new FerryException(ErrorCode.AUTH_FAILED, "the donor at " + c.peer() +
                        " could not prove it knows the shared secret; refusing it");
                }
                step = 3;
                return true;
            }
            default:
                throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "donor sent " + FrameType.name(type) +
                    " after the handshake");
        }
    }

    private static void expect(final int type, final int expected)
    {
        if (type != expected)
        {
            throw new FerryException(ErrorCode.UNEXPECTED_COMMAND, "donor sent " + FrameType.name(type) + ", expected " +
                FrameType.name(expected));
        }
    }
}
