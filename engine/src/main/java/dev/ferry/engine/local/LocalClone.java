package dev.ferry.engine.local;

import dev.ferry.engine.donor.FileTreeDonor;
import dev.ferry.engine.recipient.BufferApplyData;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.recipient.TargetLock;
import dev.ferry.engine.recipient.RegionApplyData;

import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.agrona.DirectBuffer;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.spi.CloneMode;
import dev.ferry.core.spi.CopyCallback;
import dev.ferry.core.spi.DonorStorage;
import dev.ferry.core.spi.Locator;
import dev.ferry.core.spi.RecipientStorage;
import dev.ferry.core.spi.Stage;
import dev.ferry.engine.CloneProgress;
import dev.ferry.engine.ProgressCounters;

/**
 * Local clone: drives the same storage SPI as a remote clone, donor and recipient in one process, no network.
 * The master task ships the metadata, then N tasks each loop {@code copy} into {@code apply} on their own thread.
 * File bytes move from file to file inside the kernel. Each call to {@link #run()} is one clone; not reusable.
 */
public final class LocalClone
{
    private final Path source;
    private final Path target;
    private final CloneSettings settings;
    private final int threads;
    private final ProgressCounters progress = new ProgressCounters();
    private final List<String> scanWarnings = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * @param source   the directory to copy.
     * @param target   an absent or empty directory.
     * @param settings concluded settings; checksums are only computed if they are on.
     * @param threads  tasks copying in parallel, at least 1.
     */
    public LocalClone(final Path source, final Path target, final CloneSettings settings, final int threads)
    {
        if (threads < 1)
        {
            throw new FerryException(ErrorCode.CONFIG_MISMATCH, "threads must be at least 1, got " + threads);
        }
        this.source = source;
        this.target = target;
        this.settings = settings;
        this.threads = threads;
    }

    /**
     * @return bytes of blocks that were holes on the source: neither read into the copy nor written. Any thread.
     */
    public long holeBytes()
    {
        return progress.holeBytes();
    }

    /**
     * @return what the copy could not keep, one line per kind (see {@code CloneResult.warnings()}): sockets the scan
     * skipped, then what FILE SYNC could not reproduce; complete once {@link #run()} returned. Any thread.
     */
    public List<String> warnings()
    {
        return progress.warnings();
    }

    /**
     * @return what the clone has done so far (a copy); any thread.
     */
    public CloneProgress progress()
    {
        return progress.snapshot();
    }

    /**
     * Run the clone to completion.
     *
     * @throws FerryException on any failure; the target then keeps its incomplete marker.
     */
    @SuppressWarnings("try") // the lock is held for the whole body
    public void run()
    {
        progress.threads(threads);
        try (TargetLock lock = TargetLock.acquire(target);
            FileTreeDonor donor = new FileTreeDonor(source, settings).onScanWarning(scanWarnings::add);
            FileTreeRecipient recipient = new FileTreeRecipient(target, settings))
        {
            final Locator version = recipient.applyBegin(CloneMode.VERSION, null);
            final Locator real = donor.begin(CloneMode.START, version);
            recipient.applyBegin(CloneMode.START, real);
            progress.estimate(donor.manifest().totalBytes(), donor.manifest().size());
            progress.stage(Stage.METADATA);

            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final CountDownLatch metadataApplied = new CountDownLatch(1);
            final List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final int task = t;
                final Thread thread = new Thread(() ->
                {
                    try
                    {
                        if (task == 0)
                        {
                            runTask(donor, recipient, real, 0, metadataApplied, failure);
                        }
                        else
                        {
                            metadataApplied.await();
                            if (failure.get() == null)
                            {
                                final Locator attached = donor.begin(CloneMode.ATTACH, real.withTask(task));
                                recipient.applyBegin(CloneMode.ATTACH, attached);
                                runTask(donor, recipient, attached, task, metadataApplied, failure);
                            }
                        }
                    }
                    catch (final Throwable ex)
                    {
                        failure.compareAndSet(null, ex);
                        metadataApplied.countDown();
                    }
                }, "ferry-local-" + t);
                thread.setDaemon(true);
                workers.add(thread);
                thread.start();
            }
            for (final Thread w : workers)
            {
                w.join();
            }
            final Throwable ex = failure.get();
            if (ex != null)
            {
                final int thrown = ex instanceof FerryException ? ((FerryException)ex).code() : ErrorCode.INTERNAL;
                final int code = thrown != ErrorCode.OK ? thrown : ErrorCode.INTERNAL; // a failure never syncs
                recipient.applyEnd(real, 0, code);
                donor.end(real, 0, code);
                throw ex instanceof FerryException ? (FerryException)ex :
                    new FerryException(ErrorCode.INTERNAL, "local clone failed: " + ex, ex);
            }
            progress.stage(Stage.FILE_SYNC);
            recipient.applyEnd(real, 0, ErrorCode.OK);
            final List<String> all = new ArrayList<>(scanWarnings);
            all.addAll(recipient.warnings());
            progress.warnings(all);
            donor.end(real, 0, ErrorCode.OK);
            progress.stage(Stage.DONE);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new FerryException(ErrorCode.CANCELLED, "local clone interrupted");
        }
        finally
        {
            progress.finish();
        }
    }

    private void runTask(
        final DonorStorage donor, final RecipientStorage recipient, final Locator locator, final int task,
        final CountDownLatch metadataApplied, final AtomicReference<Throwable> failure)
    {
        final DescriptorFlyweight desc = new DescriptorFlyweight();
        final RegionApplyData region = new RegionApplyData(settings.transferCap());
        final BufferApplyData buffered = new BufferApplyData();
        final CopyCallback callback = new CopyCallback()
        {
            @Override
            public boolean onDescriptor(final DirectBuffer d, final int offset, final int length)
            {
                recipient.apply(locator, task, d, offset, length, null);
                desc.wrap(d, offset, length);
                if (desc.type() == DescriptorFlyweight.TYPE_STATE && desc.stage() == Stage.FILE_COPY)
                {
                    progress.stage(Stage.FILE_COPY);
                    metadataApplied.countDown();
                }
                return true;
            }

            @Override
            public boolean onFileRegion(
                final DirectBuffer d, final int offset, final int length, final FileChannel channel,
                final long position, final int count)
            {
                recipient.apply(locator, task, d, offset, length, region.set(channel, position, count));
                applied(d, offset, length, count);
                return true;
            }

            @Override
            public boolean onBuffer(
                final DirectBuffer d, final int offset, final int length, final DirectBuffer data, final int dataOffset,
                final int dataLength)
            {
                recipient.apply(locator, task, d, offset, length, buffered.set(data.byteBuffer(), dataOffset, dataLength));
                applied(d, offset, length, dataLength);
                return true;
            }

            private void applied(final DirectBuffer d, final int offset, final int length, final int bytes)
            {
                progress.onBlock(bytes);
                desc.wrap(d, offset, length);
                progress.onHole(desc.dataLength() - bytes);
                if (desc.isLastInChunk())
                {
                    donor.ack(locator, task, desc.dataChunk(), desc.dataBlock() + 1, true);
                }
            }
        };
        while (failure.get() == null && donor.copy(locator, task, callback) == DonorStorage.COPY_MORE)
        {
            // each call does a bounded amount of work; loop until the task is done or another task failed
        }
        donor.end(locator, task, ErrorCode.OK);
    }
}
