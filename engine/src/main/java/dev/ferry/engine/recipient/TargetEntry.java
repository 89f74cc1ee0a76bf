package dev.ferry.engine.recipient;

import java.nio.file.Path;

/**
 * What the recipient knows of one entry the donor announced: its path (as sent and resolved under the target), its
 * type, size, mode, mtime and symlink target, and whether a resume kept it from an interrupted clone. Created by the
 * {@link ManifestReceiver} on the master task's thread; read by every stage after the manifest is complete (the
 * volatile stage write that ends the metadata stage publishes it). Only {@link #kept} changes later, and only in a
 * resume by manifest, before any data moves.
 */
final class TargetEntry
{
    final String path;
    final Path resolved;
    final int type;
    final long size;
    final int mode;
    final long mtimeNanos;
    final String linkTarget;
    boolean kept;

    TargetEntry(final String path, final Path resolved, final int type, final long size, final int mode,
        final long mtimeNanos, final String linkTarget)
    {
        this.path = path;
        this.resolved = resolved;
        this.type = type;
        this.size = size;
        this.mode = mode;
        this.mtimeNanos = mtimeNanos;
        this.linkTarget = linkTarget;
    }
}
