package dev.ferry.core.protocol;

/**
 * Frame type codes, the {@code type} field of {@link FrameHeader}. Part of the wire format: never renumber.
 * <ul>
 *   <li>1-6: clone commands, client to donor (as in the clone plugin: INIT, ATTACH, REINIT, EXECUTE, ACK, EXIT).</li>
 *   <li>101-106 (and up to 127): clone responses, donor to client.</li>
 *   <li>16-31: regular-session frames, before and around the switch to the clone protocol.</li>
 * </ul>
 * Thread-safe: constants only.
 */
public final class FrameType
{
    public static final int COM_INIT = 1;
    public static final int COM_ATTACH = 2;
    public static final int COM_REINIT = 3;
    public static final int COM_EXECUTE = 4;
    public static final int COM_ACK = 5;
    public static final int COM_EXIT = 6;
    /** Client to donor, before COM_REINIT: hashes of the pieces the recipient already has of one file (protocol 3). */
    public static final int COM_HAVE = 7;

    public static final int COM_RES_LOCS = 101;
    public static final int COM_RES_DATA_DESC = 102;
    public static final int COM_RES_DATA = 103;
    public static final int COM_RES_CONFIG = 104;
    public static final int COM_RES_COMPLETE = 105;
    public static final int COM_RES_ERROR = 106;
    /**
     * Donor to client, in answer to COM_INIT: the clone waits in the donor's queue (position, waiting, running; see
     * {@link QueuedCodec}); sent again while it waits, until COM_RES_LOCS. Only to clients that announce
     * {@link HelloCodec#FEATURE_QUEUE}.
     */
    public static final int COM_RES_QUEUED = 107;

    /** Both directions, first frame of a session: magic, software version, protocol range, features. */
    public static final int HELLO = 16;
    /** Donor to client: a nonce the client must prove knowledge of the shared secret against. */
    public static final int AUTH_CHALLENGE = 17;
    /** Client to donor: the proof (HMAC) and the client's own nonce. */
    public static final int AUTH_RESPONSE = 18;
    /** Donor to client: authentication accepted, with the donor's proof. */
    public static final int AUTH_OK = 19;
    /** Client to donor: switch this session to the clone protocol ({@code COM_CLONE}). */
    public static final int COM_CLONE = 20;
    /** Either direction: a heartbeat that keeps an idle but healthy connection from timing out. */
    public static final int PING = 21;

    private FrameType()
    {
    }

    /**
     * @return true if this build knows the type.
     */
    public static boolean isKnown(final int type)
    {
        return (type >= COM_INIT && type <= COM_HAVE) ||
            (type >= COM_RES_LOCS && type <= COM_RES_QUEUED) ||
            (type >= HELLO && type <= PING);
    }

    /**
     * @return a name for logs and error messages.
     */
    public static String name(final int type)
    {
        switch (type)
        {
            case COM_INIT: return "COM_INIT";
            case COM_ATTACH: return "COM_ATTACH";
            case COM_REINIT: return "COM_REINIT";
            case COM_EXECUTE: return "COM_EXECUTE";
            case COM_ACK: return "COM_ACK";
            case COM_EXIT: return "COM_EXIT";
            case COM_HAVE: return "COM_HAVE";
            case COM_RES_LOCS: return "COM_RES_LOCS";
            case COM_RES_DATA_DESC: return "COM_RES_DATA_DESC";
            case COM_RES_DATA: return "COM_RES_DATA";
            case COM_RES_CONFIG: return "COM_RES_CONFIG";
            case COM_RES_COMPLETE: return "COM_RES_COMPLETE";
            case COM_RES_ERROR: return "COM_RES_ERROR";
            case COM_RES_QUEUED: return "COM_RES_QUEUED";
            case HELLO: return "HELLO";
            case AUTH_CHALLENGE: return "AUTH_CHALLENGE";
            case AUTH_RESPONSE: return "AUTH_RESPONSE";
            case AUTH_OK: return "AUTH_OK";
            case COM_CLONE: return "COM_CLONE";
            case PING: return "PING";
            default: return "TYPE_" + type;
        }
    }
}
