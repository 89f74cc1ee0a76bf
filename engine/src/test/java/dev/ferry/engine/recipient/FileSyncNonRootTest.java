package dev.ferry.engine.recipient;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.engine.faithful.ChildJvm;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * FILE SYNC as a non-root owner (uid 65534, a child JVM through setpriv) forcing files whose final modes are already
 * set, as after an interrupted FILE SYNC: a mode-000 or mode-0200 file cannot be opened for reading by its owner, so a
 * force that opens it after chmod fails. FILE SYNC opens each file before its final mode, and lifts a mode it finds
 * already set; with the pure-Java file system ({@code -Dferry.native=false}: no syncfs, no utimensat, every file
 * forced on its own) and with the native one.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class FileSyncNonRootTest
{
    @TempDir
    Path dir;

    private Path work;
    private String classPath;

    @BeforeEach
    void setUp() throws Exception
    {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to switch to uid 65534");
        classPath = ChildJvm.readableClassPath(dir.resolve("cp"));
        work = dir.resolve("work");
        ChildJvm.sh("chmod 755 '" + dir + "' && mkdir '" + work + "' && chown 65534:65534 '" + work + "'");
    }

    @Test
    void pureJavaFileSyncForcesFilesWhoseModeIsAlreadyZero() throws Exception
    {
        check(List.of("-Dferry.native=false"), "ok false");
    }

    @Test
    void nativeFileSyncForcesFilesWhoseModeIsAlreadyZero() throws Exception
    {
        assumeTrue(NativeFs.instance().isNative());
        check(List.of("-Djna.tmpdir=" + work.resolve(".jna")), "ok true");
    }

    private void check(final List<String> jvm, final String expected) throws Exception
    {
        final Path target = work.resolve("target");
        final ChildJvm.Result r = ChildJvm.run(true, jvm, Map.of("HOME", work.toString()), classPath,
            FileSyncChild.class.getName(), List.of(target.toString())).assertOk();
        assertTrue(r.stdout().startsWith(expected + " []"), r.stdout() + r.stderr());
        assertFalse(Files.exists(target.resolve(".ferry")), "FILE SYNC removed the marker");
        final NativeFs fs = NativeFs.instance();
        for (int i = 0; i < FileSyncChild.ENTRIES.length; i++)
        {
            final String path = (String)FileSyncChild.ENTRIES[i][0];
            final int size = (Integer)FileSyncChild.ENTRIES[i][2];
            final Path p = path.isEmpty() ? target : target.resolve(path);
            final EntryStat st = fs.stat(PathBytes.cPath(p));
            assertEquals((int)(Integer)FileSyncChild.ENTRIES[i][1], st.permissions(), "mode of '" + path + "'");
            assertEquals(FileSyncChild.MTIME / 1000, st.mtimeNanos() / 1000, "mtime of '" + path + "' (us)");
            assertEquals(ChildJvm.NOBODY, st.uid(), path);
            if (size >= 0)
            {
                assertArrayEquals(FileSyncChild.content(i, size), Files.readAllBytes(p), path);
            }
        }
    }
}
