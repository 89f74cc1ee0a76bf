package dev.ferry.engine;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.Wire;
import dev.ferry.transport.TransportSettings;

/**
 * What the options of both ends of a clone share: clone settings, transport settings (timeouts, TLS), the protocol
 * range spoken, and the shared secret. Chained setters return the concrete options type.
 *
 * @param <T> the concrete options type.
 */
public abstract class EndpointOptions<T extends EndpointOptions<T>>
{
    private CloneSettings settings = new CloneSettings();
    private TransportSettings transport = new TransportSettings();
    private int protocolMin = Wire.PROTOCOL_MIN;
    private int protocolMax = Wire.PROTOCOL_MAX;
    private SharedSecret secret;

    protected abstract T self();

    public T settings(final CloneSettings v)
    {
        settings = v;
        return self();
    }

    public T transport(final TransportSettings v)
    {
        transport = v;
        return self();
    }

    /**
     * Speak only this protocol range (tests use it to play an older or newer peer).
     */
    public T protocols(final int min, final int max)
    {
        protocolMin = min;
        protocolMax = max;
        return self();
    }

    /**
     * The shared secret: a donor requires clients to prove knowledge of it (challenge-response) before COM_CLONE; a
     * client authenticates with it and requires the donor to prove it too.
     */
    public T secret(final SharedSecret v)
    {
        secret = v;
        return self();
    }

    public CloneSettings settings()
    {
        return settings;
    }

    public TransportSettings transport()
    {
        return transport;
    }

    public int protocolMin()
    {
        return protocolMin;
    }

    public int protocolMax()
    {
        return protocolMax;
    }

    public SharedSecret secret()
    {
        return secret;
    }
}
