package dev.ferry.engine.recipient;

import dev.ferry.core.protocol.DescriptorFlyweight;

/**
 * Which set-user-ID and set-group-ID bits a cloned regular file keeps. Ferry does not clone owners yet, so every file a
 * clone creates belongs to whoever runs the client: run as root, a donor's setuid file would become a setuid-root
 * program on the recipient. So, as root, the bits are kept only for a file whose owner is cloned too (none today:
 * {@link #OWNERS_CLONED} is the hook for the issue that adds owners); {@code --no-setuid} strips them always, the
 * cautious choice for a donor one does not trust. Directories keep theirs (setgid on a directory only makes new files
 * inherit its group). Stateless.
 */
final class SetidPolicy
{
    /** The set-user-ID and set-group-ID bits. */
    static final int SETID_BITS = 06000;
    /** Whether entries' owners are cloned: false until Ferry clones owners; then it comes from the manifest. */
    static final boolean OWNERS_CLONED = false;

    private SetidPolicy()
    {
    }

    /**
     * @param type          the entry's type ({@link DescriptorFlyweight#FILE_REGULAR}, ...).
     * @param mode          the permission bits the donor sent.
     * @param noSetuid      {@code --no-setuid}: strip the bits whoever runs the clone.
     * @param runningAsRoot whether the files the clone creates belong to root.
     * @param ownerCloned   whether this entry's owner is cloned too.
     * @return the permission bits to give the cloned entry.
     */
    static int mode(final int type, final int mode, final boolean noSetuid, final boolean runningAsRoot,
        final boolean ownerCloned)
    {
        if (type != DescriptorFlyweight.FILE_REGULAR)
        {
            return mode;
        }
        if (noSetuid || runningAsRoot && !ownerCloned)
        {
            return mode & ~SETID_BITS;
        }
        return mode;
    }
}
