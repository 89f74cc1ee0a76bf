package dev.ferry.engine.live;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live datasets (issue 11): a tree under a writer (overwrites of 4 KiB in big files, appends, creates, deletes,
 * renames, about 100 operations a second) cloned without hooks (every file is a version it had) and with freeze
 * hooks that stop the writer (the copy is the tree as it stood inside the freeze, the freeze well under a second).
 */
public class LiveCloneTest
{
    static final int BLOCK = 64 * 1024;

    @TempDir
    Path dir;

    /** Writes to a tree until stopped; records every version of every path it produced. */
    public static final class Writer implements Runnable
    {
        final Path root;
        final Map<String, Set<String>> versions = new HashMap<>();
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicInteger ops = new AtomicInteger();
        /** While this file exists the writer holds still (the freeze hook creates it). */
        final Path pauseFlag;
        final Path pausedAck;
        private final Random r = new Random(11);
        private int next;

        public Writer(final Path root, final Path pauseFlag, final Path pausedAck) throws IOException
        {
            this.root = root;
            this.pauseFlag = pauseFlag;
            this.pausedAck = pausedAck;
            Files.createDirectories(root.resolve("big"));
            Files.createDirectories(root.resolve("small"));
            for (int i = 0; i < 3; i++)
            {
                write("big/b" + i, bytes(1 << 20));
            }
            for (int i = 0; i < 30; i++)
            {
                write("small/s" + i, bytes(1 + r.nextInt(6000)));
            }
            write("log", bytes(1000));
            // static bulk, so the first pass lasts long enough for the writer to change the tree under it
            Files.createDirectories(root.resolve("bulk"));
            for (int i = 0; i < 12; i++)
            {
                write("bulk/f" + i, bytes(3 << 20));
            }
        }

        private byte[] bytes(final int n)
        {
            final byte[] b = new byte[n];
            r.nextBytes(b);
            return b;
        }

        private void write(final String rel, final byte[] b) throws IOException
        {
            Files.write(root.resolve(rel), b);
            record(rel);
        }

        synchronized void record(final String rel) throws IOException
        {
            versions.computeIfAbsent(rel, k -> new HashSet<>()).add(sha(root.resolve(rel)));
        }

        @Override
        public void run()
        {
            try
            {
                while (!stop.get())
                {
                    if (pauseFlag != null && Files.exists(pauseFlag))
                    {
                        Files.write(pausedAck, new byte[0]);
                        Thread.sleep(2);
                        continue;
                    }
                    if (pausedAck != null)
                    {
                        Files.deleteIfExists(pausedAck);
                    }
                    step();
                    ops.incrementAndGet();
                    Thread.sleep(10);
                }
            }
            catch (final Exception ex)
            {
                throw new AssertionError(ex);
            }
        }

        private void step() throws IOException
        {
            final int op = r.nextInt(10);
            if (op < 5)
            {
                final String rel = "big/b" + r.nextInt(3);
                try (RandomAccessFile f = new RandomAccessFile(root.resolve(rel).toFile(), "rw"))
                {
                    f.seek(r.nextInt((1 << 20) - 4096));
                    f.write(bytes(4096));
                }
                record(rel);
            }
            else if (op < 7)
            {
                Files.write(root.resolve("log"), bytes(512), StandardOpenOption.APPEND);
                record("log");
            }
            else if (op == 7)
            {
                write("small/new" + next++, bytes(1 + r.nextInt(3000)));
            }
            else if (op == 8)
            {
                final Path victim = root.resolve("small/s" + r.nextInt(30));
                Files.deleteIfExists(victim);
            }
            else
            {
                final Path from = root.resolve("small/s" + r.nextInt(30));
                final String to = "small/moved" + next++;
                try
                {
                    Files.move(from, root.resolve(to));
                    record(to);
                }
                catch (final NoSuchFileException ignore)
                {
                    // deleted before
                }
            }
        }
    }

    static String sha(final Path p) throws IOException
    {
        try
        {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        }
        catch (final java.security.NoSuchAlgorithmException ex)
        {
            throw new AssertionError(ex);
        }
    }

    private DonorService donor(final Path src, final DonorService.Options o)
    {
        return new DonorService(src, new InetSocketAddress("127.0.0.1", 0), o
            .settings(new CloneSettings().blockSize(BLOCK).chunkSize(4L * BLOCK)).restartWindowMs(60_000)).start();
    }

    @Test
    void withoutHooksEveryFileIsAVersionItHad() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        final Writer w = new Writer(src, null, null);
        final Thread t = new Thread(w, "writer");
        final CloneResult r;
        try (DonorService d = donor(src, new DonorService.Options()))
        {
            t.start();
            // the writer goes on through the first pass and stops once the clone copies what changed
            r = new CloneClient(d.address(), dst, new CloneClient.Options().threads(2).onProgress(p ->
            {
                if (p.stage() == dev.ferry.engine.CloneStage.CHANGE_COPY)
                {
                    w.stop.set(true);
                }
            }, 20)).run();
        }
        finally
        {
            w.stop.set(true);
            t.join(10_000);
        }
        assertFalse(FileTreeRecipient.isIncomplete(dst));
        assertTrue(w.ops.get() > 5, "the writer ran during the clone: " + w.ops.get() + " operations");
        assertTrue(r.live().passes() >= 2, "changes under the clone need another pass: " + r);
        assertEquals(0, r.live().unstableFiles(), "the last pass read every file while it held still: " + r);
        assertEveryFileIsAVersionItHad(w, dst, r);
        System.out.println("LiveCloneTest without hooks: " + w.ops.get() + " writes during the clone, " + r.live());
    }

    @Test
    void aFileThatNeverHoldsStillEndsTheCloneAfterMaxRoundsAndIsCounted() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        final Writer w = new Writer(src, null, null);
        final Thread t = new Thread(w, "writer");
        final CloneResult r;
        try (DonorService d = donor(src, new DonorService.Options()))
        {
            t.start();
            r = new CloneClient(d.address(), dst, new CloneClient.Options().threads(2).maxRounds(3)).run();
        }
        finally
        {
            w.stop.set(true);
            t.join(10_000);
        }
        // a writer at ~100 operations a second on four files changes them in every pass
        assertTrue(r.live().passes() <= 3, r.toString());
        if (r.live().unstableFiles() == 0)
        {
            assertEveryFileIsAVersionItHad(w, dst, r);
        }
        assertFalse(FileTreeRecipient.isIncomplete(dst), "bounded: the clone ends, the summary names the count");
        System.out.println("LiveCloneTest, writer never stops: " + r.live());
    }

    private static void assertEveryFileIsAVersionItHad(final Writer w, final Path dst, final CloneResult r)
        throws IOException
    {
        try (Stream<Path> files = Files.walk(dst))
        {
            for (final Path p : (Iterable<Path>)files.filter(Files::isRegularFile)::iterator)
            {
                final String rel = dst.relativize(p).toString();
                if (rel.equals(dev.ferry.engine.layout.ManifestScanner.HASH_STORE))
                {
                    continue; // the copy's hash store
                }
                final Set<String> seen = w.versions.get(rel);
                assertTrue(seen != null, rel + " never existed on the donor");
                assertTrue(seen.contains(sha(p)), rel + " is not a version it had (" + r + ")");
            }
        }
    }

    @Test
    void withHooksTheCopyIsTheTreeInsideTheFreeze() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        final Path ref = dir.resolve("reference");
        final Path pause = dir.resolve("pause");
        final Path paused = dir.resolve("paused");
        final Path thawed = dir.resolve("thawed");
        final Writer w = new Writer(src, pause, paused);
        final Thread t = new Thread(w, "writer");
        // freeze: stop the writer, wait until it holds still, take the reference copy; thaw: let it go on
        final String freeze = "touch '" + pause + "' && while [ ! -f '" + paused + "' ]; do sleep 0.01; done && " +
            "rm -rf '" + ref + "' && cp -a \"$FERRY_ROOT\" '" + ref + "' && test -n \"$FERRY_SNAPSHOT\"";
        final String thaw = "rm -f '" + pause + "' && touch '" + thawed + "'";
        final CloneResult r;
        try (DonorService d = donor(src, new DonorService.Options().freezeCmd(freeze).thawCmd(thaw)))
        {
            t.start();
            r = new CloneClient(d.address(), dst, new CloneClient.Options().threads(2)).run();
        }
        finally
        {
            w.stop.set(true);
            t.join(10_000);
        }
        assertTrue(w.ops.get() > 20, "the writer ran during the clone: " + w.ops.get());
        assertTrue(r.live().frozen(), r.toString());
        assertTrue(r.live().passes() >= 3, "FILE COPY, CHANGE COPY, FREEZE: " + r);
        assertTrue(r.live().frozenNanos() < 1_000_000_000L, "the freeze held " + r.live().frozenNanos() + " ns");
        assertTrue(Files.exists(thawed), "the thaw hook ran");
        assertEquals(List.of(), TreeComparator.compare(ref, dst), "the copy is the tree as it stood in the freeze");
        System.out.println("LiveCloneTest with hooks: " + w.ops.get() + " writes, " + r.live() + ", " + r.diff());
    }

    @Test
    void aFreezeHookThatFailsAbortsWithItsStderrAndStillThaws() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        new Writer(src, null, null);
        final Path thawed = dir.resolve("thawed");
        try (DonorService d = donor(src, new DonorService.Options()
            .freezeCmd("echo 'cannot lock the tables' >&2; exit 3").thawCmd("touch '" + thawed + "'")))
        {
            final FerryException ex = assertThrows(FerryException.class,
                () -> new CloneClient(d.address(), dst, new CloneClient.Options().threads(2)).run());
            assertEquals(ErrorCode.HOOK_FAILED, ex.code(), ex.describe());
            assertTrue(ex.getMessage().contains("cannot lock the tables") && ex.getMessage().contains("exited with 3"),
                ex.getMessage());
        }
        assertTrue(Files.exists(thawed), "a thaw runs after a freeze hook that failed, in case it froze part");
    }

    @Test
    void strictModeStillRefusesAChangingFile() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        final Writer w = new Writer(src, null, null);
        final Thread t = new Thread(w, "writer");
        try (DonorService d = donor(src, new DonorService.Options()))
        {
            t.start();
            final FerryException ex = assertThrows(FerryException.class,
                () -> new CloneClient(d.address(), dst, new CloneClient.Options().threads(2).strict(true)).run());
            assertEquals(ErrorCode.FILE_CHANGED, ex.code(), ex.describe());
        }
        finally
        {
            w.stop.set(true);
            t.join(10_000);
        }
    }
}
