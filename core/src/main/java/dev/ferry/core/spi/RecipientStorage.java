package dev.ferry.core.spi;

import org.agrona.DirectBuffer;

/**
 * The recipient half of the storage SPI, mirroring the clone handlerton: {@code applyBegin}, {@code apply},
 * {@code applyEnd}.
 * <p>
 * Thread model: {@code apply} calls with the same {@code task} number are never concurrent; calls with different
 * task numbers may be. Metadata (STATE and FILE descriptors) is applied by the master task, before any task applies
 * data. {@code applyBegin} and {@code applyEnd} are called by the master.
 */
public interface RecipientStorage extends AutoCloseable
{
    /**
     * @param mode {@link CloneMode#VERSION}: return a version locator with what this side supports;
     *             {@link CloneMode#START}: prepare the target for the snapshot of {@code locator};
     *             {@link CloneMode#ATTACH}: a task joins; {@link CloneMode#RESTART}: prepare to resume.
     * @return the locator to send (VERSION) or the one accepted.
     */
    Locator applyBegin(CloneMode mode, Locator locator);

    /**
     * Apply one descriptor: STATE and FILE descriptors with {@code data == null}, DATA descriptors with their bytes.
     *
     * @throws dev.ferry.core.protocol.FerryException on a refused path, a checksum mismatch, a full disk.
     */
    void apply(Locator locator, int task, DirectBuffer descriptor, int offset, int length, ApplyData data);

    /**
     * End the clone: with {@code error == 0}, restore modes, times and symlinks, force everything to disk (the FILE
     * SYNC stage) and remove the incomplete marker; otherwise leave the target marked incomplete.
     */
    void applyEnd(Locator locator, int task, int error);

    @Override
    void close();
}
