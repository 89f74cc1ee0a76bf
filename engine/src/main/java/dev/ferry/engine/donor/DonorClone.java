package dev.ferry.engine.donor;

import java.util.concurrent.atomic.AtomicInteger;

import dev.ferry.core.spi.Locator;

/**
 * One clone a donor serves: its storage (the snapshot) and how many sessions use it. Kept after a network failure
 * until the restart window runs out. Thread-safe.
 */
final class DonorClone
{
    final FileTreeDonor storage;
    final Locator locator;
    final AtomicInteger sessions = new AtomicInteger();
    volatile long idleSinceNanos = System.nanoTime();
    volatile boolean finished;

    DonorClone(final FileTreeDonor storage, final Locator locator)
    {
        this.storage = storage;
        this.locator = locator;
    }

    long snapshotId()
    {
        return locator.snapshotId();
    }
}
