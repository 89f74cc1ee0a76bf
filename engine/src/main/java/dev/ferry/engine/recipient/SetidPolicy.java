package dev.ferry.engine.recipient;

import dev.ferry.core.protocol.DescriptorFlyweight;

/**
 * Which set-user-ID and set-group-ID bits a cloned regular file keeps. A file whose owner is not cloned belongs to
 * whoever runs the client: run as root, a donor's setuid file would then become a setuid-root program on the recipient.
 * So, as root, the bits are kept only for a file whose owner is cloned too (FILE SYNC as root clones every owner, so
 * the file keeps exactly the owner and bits the donor declared); {@code --no-setuid} strips them always, the cautious
 * choice for a donor one does not trust. Directories keep theirs (setgid on a directory only makes new files inherit
 * its group). Stateless.
 */
final class SetidPolicy
{
    /** The set-user-ID and set-group-ID bits. */
    static final int SETID_BITS = 06000;

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
