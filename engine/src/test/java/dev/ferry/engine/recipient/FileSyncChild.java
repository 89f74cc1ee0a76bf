package dev.ferry.engine.recipient;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import dev.ferry.core.protocol.DescriptorFlyweight;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;

/**
 * A child JVM for {@link FileSyncNonRootTest}: {@code FileSyncChild TARGET} plays the FILE SYNC of a clone that was
 * interrupted after it had set the final modes of some files (000, 0200, a directory 0500), as its non-root owner:
 * FILE SYNC runs again, with sync on, and must force every file, set every mode and mtime, and remove {@code .ferry/}.
 * Prints "ok" and the warnings on success; fails with a stack trace otherwise.
 */
public final class FileSyncChild
{
    /** The mtime every entry gets. */
    public static final long MTIME = 1_500_000_000_987_654_321L;
    /** Relative path, mode and size of each entry, parents first; "" is the target itself. */
    public static final Object[][] ENTRIES = {
        { "", 0700, -1 },
        { "sub", 0500, -1 },
        { "mode-000", 0, 5000 },
        { "mode-200", 0200, 70_000 },
        { "mode-400", 0400, 10 },
        { "sub/mode-000", 0, 3 },
    };

    private FileSyncChild()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final Path target = Path.of(args[0]);
        final Path stateDir = target.resolve(".ferry");
        Files.createDirectories(stateDir);
        final int uid = (Integer)Files.getAttribute(stateDir, "unix:uid");
        final int gid = (Integer)Files.getAttribute(stateDir, "unix:gid");
        final TargetEntries entries = new TargetEntries(target);
        for (int i = 0; i < ENTRIES.length; i++)
        {
            final String path = (String)ENTRIES[i][0];
            final int mode = (Integer)ENTRIES[i][1];
            final int size = (Integer)ENTRIES[i][2];
            final Path p = path.isEmpty() ? target : target.resolve(path);
            if (size >= 0)
            {
                Files.write(p, content(i, size));
            }
            else
            {
                Files.createDirectories(p);
            }
            final byte[] raw = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            entries.add(raw, size >= 0 ? DescriptorFlyweight.FILE_REGULAR :
                DescriptorFlyweight.FILE_DIRECTORY, Math.max(0, size), mode, MTIME, null, uid, gid, 0, 0,
                DescriptorFlyweight.NO_LINK, 0, new byte[0]);
        }
        // what the interrupted FILE SYNC left: the files' final modes are set (the directories' are not yet: they
        // come last, and a parent of mode 0500 would keep the clone from writing into it in the first place)
        for (int i = 0; i < ENTRIES.length; i++)
        {
            if ((Integer)ENTRIES[i][2] >= 0)
            {
                Files.setAttribute(entries.get(i).resolved(), "unix:mode", (Integer)ENTRIES[i][1]);
            }
        }
        final FileSyncStage sync = new FileSyncStage(target, stateDir, true, new RecipientJournal(stateDir, true));
        sync.probeModesIfNeeded();
        sync.run(entries);
        System.out.println("ok " + NativeFs.instance().isNative() + " " + sync.warnings());
    }

    /** The bytes of entry {@code i}: never all zero. */
    public static byte[] content(final int i, final int size)
    {
        final byte[] b = new byte[size];
        new Random(i).nextBytes(b);
        if (size > 0)
        {
            b[0] = 1;
        }
        return b;
    }

    static byte[] cPath(final Path p)
    {
        return PathBytes.cPath(p);
    }
}
