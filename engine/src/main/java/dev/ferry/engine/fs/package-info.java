/**
 * The file system below the clone: what the JDK does not give exactly or at all.
 * <ul>
 *   <li>{@link dev.ferry.engine.fs.PathBytes}: names as the raw bytes Linux stores, to and from {@code Path}s, under
 *   any locale; {@code display} for people.</li>
 *   <li>{@link dev.ferry.engine.fs.EntryStat}: one entry's lstat (owner, full mode, inode, device, size, ns times).</li>
 *   <li>{@link dev.ferry.engine.fs.NativeFs}: the one seam to libc (JNA), with a pure-Java fallback that says what
 *   it cannot do; {@link dev.ferry.engine.fs.DataExtentCursor} walks a file's data and holes.</li>
 * </ul>
 * Nothing here knows the manifest, the wire or a clone; the engine calls it from the scan, donor and apply threads.
 */
package dev.ferry.engine.fs;
