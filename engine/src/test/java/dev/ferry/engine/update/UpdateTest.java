package dev.ferry.engine.update;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.recipient.FileTreeRecipient;
import dev.ferry.engine.verify.TreeComparator;

import static dev.ferry.engine.layout.TestFiles.overwrite;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ferry clone --update}: a finished copy brought up to date after every kind of change, the copy compared
 * with the donor's tree byte for byte and by metadata (owners, modes, mtimes, xattrs, link targets), and the bytes
 * that travelled bounded by what changed.
 */
class UpdateTest
{
    static final int BLOCK = 64 * 1024;
    static final long CHUNK = 4L * BLOCK;

    @TempDir
    Path dir;

    static DonorService donor(final Path src)
    {
        return donor(src, dev.ferry.core.protocol.Wire.PROTOCOL_MAX);
    }

    static DonorService donor(final Path src, final int protocolMax)
    {
        return new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .protocols(dev.ferry.core.protocol.Wire.PROTOCOL_MIN, protocolMax)
            .settings(new CloneSettings().blockSize(BLOCK).chunkSize(CHUNK)).restartWindowMs(60_000)).start();
    }

    static CloneResult clone(final DonorService d, final Path dst, final CloneClient.Options o)
    {
        return new CloneClient(d.address(), dst, o.threads(2)).run();
    }

    static byte[] random(final Random r, final int n)
    {
        final byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** A tree of big files, small files, a directory to move, a file to move, links, modes and an xattr. */
    static void buildTree(final Path src, final Random r) throws IOException
    {
        Files.createDirectories(src.resolve("big"));
        Files.write(src.resolve("big/a.bin"), random(r, 2 << 20));
        Files.write(src.resolve("big/b.bin"), random(r, 1 << 20));
        Files.write(src.resolve("big/c.bin"), random(r, 1 << 20));
        Files.write(src.resolve("big/d.bin"), random(r, 1 << 20));
        Files.createDirectories(src.resolve("small"));
        for (int i = 0; i < 60; i++)
        {
            Files.write(src.resolve("small/f" + i), random(r, 1 + r.nextInt(8192)));
        }
        Files.createDirectories(src.resolve("moveme/inner"));
        for (int i = 0; i < 5; i++)
        {
            Files.write(src.resolve("moveme/inner/x" + i), random(r, 20_000 + i));
        }
        Files.write(src.resolve("renamed.bin"), random(r, 300_000));
        Files.write(src.resolve("todelete.txt"), "bye".getBytes(StandardCharsets.UTF_8));
        Files.createSymbolicLink(src.resolve("link"), Path.of("small/f1"));
        Files.write(src.resolve("typeswap1"), random(r, 5000));
        Files.createDirectories(src.resolve("typeswap2/sub"));
        Files.write(src.resolve("typeswap2/sub/z"), random(r, 100));
        xattr(src.resolve("small/f7"), "user.colour", "blue");
        Files.setLastModifiedTime(src.resolve("small/f0"), FileTime.fromMillis(1_000_000_000_000L));
    }

    static void xattr(final Path p, final String name, final String value) throws IOException
    {
        Files.getFileAttributeView(p, UserDefinedFileAttributeView.class)
            .write(name.substring("user.".length()), ByteBuffer.wrap(value.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Against a donor of this build (protocol 4: it hashes the big files ahead while the client merges) and one of
     * protocol 3, to which the client must not send COM_EXECUTE's HASH_AHEAD (it would refuse the frame).
     */
    @ParameterizedTest(name = "donor protocol {0}")
    @ValueSource(ints = { dev.ferry.core.protocol.Wire.PROTOCOL_MIN, dev.ferry.core.protocol.Wire.PROTOCOL_MAX })
    void everyKindOfChangeIsBroughtOverAndOnlyChangesTravel(final int protocol) throws Exception
    {
        final Random r = new Random(5);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        buildTree(src, r);
        try (DonorService d = donor(src, protocol))
        {
            clone(d, dst, new CloneClient.Options());
            assertEquals(List.of(), TreeComparator.compare(src, dst));

            // the changes
            overwrite(src.resolve("big/a.bin"), (1 << 20) + 100, random(r, 4096), false); // two pieces touched
            Files.write(src.resolve("big/c.bin"), random(r, 10_000), java.nio.file.StandardOpenOption.APPEND);
            try (RandomAccessFile f = new RandomAccessFile(src.resolve("big/d.bin").toFile(), "rw"))
            {
                f.setLength(300_000);
            }
            Files.delete(src.resolve("todelete.txt"));
            Files.delete(src.resolve("small/f5"));
            Files.write(src.resolve("new.txt"), random(r, 3000));
            Files.createDirectories(src.resolve("small/newdir"));
            Files.write(src.resolve("small/newdir/n.bin"), random(r, 7000));
            for (int i = 10; i < 20; i++)
            {
                Files.write(src.resolve("small/f" + i), random(r, 1 + r.nextInt(8192))); // rewritten
            }
            Files.createDirectories(src.resolve("sub"));
            Files.move(src.resolve("renamed.bin"), src.resolve("sub/renamed2.bin"));
            Files.move(src.resolve("moveme"), src.resolve("moved"));
            Files.setPosixFilePermissions(src.resolve("small/f2"), PosixFilePermissions.fromString("rw-------"));
            Files.setAttribute(src.resolve("small/f3"), "unix:uid", 1234);
            Files.setAttribute(src.resolve("small/f3"), "unix:gid", 5678);
            Files.delete(src.resolve("typeswap1"));
            Files.createDirectories(src.resolve("typeswap1"));
            Files.write(src.resolve("typeswap1/inside"), random(r, 200));
            Files.delete(src.resolve("typeswap2/sub/z"));
            Files.delete(src.resolve("typeswap2/sub"));
            Files.delete(src.resolve("typeswap2"));
            Files.write(src.resolve("typeswap2"), random(r, 321));
            Files.delete(src.resolve("link"));
            Files.createSymbolicLink(src.resolve("link"), Path.of("small/f9"));
            xattr(src.resolve("small/f4"), "user.k", "v");
            Files.getFileAttributeView(src.resolve("small/f7"), UserDefinedFileAttributeView.class).delete("colour");

            final long sentBefore = d.bytesSent();
            final CloneResult u = clone(d, dst, new CloneClient.Options().update(true));
            final long sent = d.bytesSent() - sentBefore;
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertFalse(FileTreeRecipient.isIncomplete(dst), ".ferry/ is gone after the update");
            // what changed: ~8 KiB of a.bin, c.bin's tail (10 KB and one piece), d.bin's new last piece, 3 new files,
            // 10 rewritten small files (<= 80 KiB), typeswap files; nothing of the renamed 400 KB
            assertTrue(u.dataBytes() < 160_000, "data sent " + u);
            assertTrue(sent < 260_000, "bytes on the wire " + sent);
            assertEquals(6, u.diff().movedFiles(), "renamed.bin and the five files of the moved directory: " + u.diff());
            assertTrue(u.diff().comparedFiles() >= 3, u.diff().toString());
            assertTrue(u.diff().unchangedBytes() > 3_000_000, "a.bin, c.bin, d.bin kept their other pieces: " + u.diff());
            if (protocol < dev.ferry.core.protocol.ExecuteFlags.HASH_AHEAD_PROTOCOL)
            {
                assertEquals(0, d.hashedAheadUsed(), "a protocol 3 donor hashes nothing ahead");
            }
        }
    }

    @Test
    void aChangeThatKeepsSizeAndMtimeNeedsTheChecksum() throws Exception
    {
        final Random r = new Random(6);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        buildTree(src, r);
        try (DonorService d = donor(src))
        {
            clone(d, dst, new CloneClient.Options());
            overwrite(src.resolve("big/b.bin"), 70_000, random(r, 4096), true);
            Thread.sleep(200); // past the donor's racy window: only the quick check (size, mtime) can look at it now

            final CloneResult quick = clone(d, dst, new CloneClient.Options().update(true));
            assertEquals(0, quick.dataBytes(), "the quick check (size and mtime) sees no change");
            assertNotEquals(List.of(), TreeComparator.compare(src, dst), "so the copy still differs");

            final CloneResult full = clone(d, dst, new CloneClient.Options().update(true).resumeChecksum(true));
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            // 4096 bytes at 70,000 touch two 4 KiB pieces
            assertEquals(2 * 4096, full.dataBytes(), full.toString());
            assertTrue(full.diff().hashedBytes() > 5_000_000, full.diff().toString());
        }
    }

    @Test
    void zerosAndHolesOverTheCopysDataAreWritten() throws Exception
    {
        final Random r = new Random(9);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        buildTree(src, r);
        try (DonorService d = donor(src))
        {
            clone(d, dst, new CloneClient.Options());
            // zeros written over data: pieces of zeros that the copy has as data must travel, not stay holes
            overwrite(src.resolve("big/a.bin"), 128 * 1024, new byte[64 * 1024], false);
            // a hole punched into data (the file becomes sparse on the donor)
            final Process p = new ProcessBuilder("fallocate", "--punch-hole", "--offset", "262144", "--length",
                "131072", src.resolve("big/b.bin").toString()).inheritIO().start();
            assertEquals(0, p.waitFor());
            final CloneResult u = clone(d, dst, new CloneClient.Options().update(true));
            assertEquals(List.of(), TreeComparator.compare(src, dst), u.toString());
            assertTrue(u.dataBytes() <= 64 * 1024 + 128 * 1024 + 8192, "only the zeroed and punched pieces: " + u);
        }
    }

    @Test
    void anUnchangedTreeSendsNoData() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        buildTree(src, new Random(7));
        try (DonorService d = donor(src))
        {
            clone(d, dst, new CloneClient.Options());
            final CloneResult u = clone(d, dst, new CloneClient.Options().update(true));
            assertEquals(0, u.dataBytes());
            assertEquals(0, u.diff().comparedFiles());
            assertTrue(u.diff().keptFiles() >= 70, u.diff().toString());
            assertEquals(List.of(), TreeComparator.compare(src, dst));
        }
    }

    @Test
    void anyDirectoryNeedsTheFlag() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        buildTree(src, new Random(8));
        Files.createDirectories(dst.resolve("big"));
        Files.write(dst.resolve("big/a.bin"), new byte[100]);
        Files.write(dst.resolve("unrelated"), new byte[10]);
        try (DonorService d = donor(src))
        {
            final FerryException refused = assertThrows(FerryException.class,
                () -> clone(d, dst, new CloneClient.Options()));
            assertEquals(ErrorCode.TARGET_NOT_EMPTY, refused.code());
            clone(d, dst, new CloneClient.Options().update(true));
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertFalse(Files.exists(dst.resolve("unrelated")));
        }
    }

    static Object inode(final Path p) throws IOException
    {
        return Files.getAttribute(p, "unix:ino", java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    @Test
    void hardLinksAreChangedThroughEveryNameMadeAndBroken() throws Exception
    {
        final Random r = new Random(9);
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        Files.createDirectories(src.resolve("h/sub"));
        Files.write(src.resolve("h/a"), random(r, 300_000));
        Files.createLink(src.resolve("h/sub/b"), src.resolve("h/a"));
        Files.write(src.resolve("h/c"), random(r, 100_000));
        Files.createLink(src.resolve("h/d"), src.resolve("h/c"));
        Files.write(src.resolve("h/e"), random(r, 50_000));
        Files.write(src.resolve("h/plain"), random(r, 70_000));
        try (DonorService d = donor(src))
        {
            clone(d, dst, new CloneClient.Options());
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertEquals(inode(dst.resolve("h/a")), inode(dst.resolve("h/sub/b")));

            overwrite(src.resolve("h/a"), 70_000, random(r, 4096), false); // both names see it
            Files.delete(src.resolve("h/d"));
            Files.write(src.resolve("h/d"), random(r, 100_000)); // the link is broken: d is a file of its own
            Files.createLink(src.resolve("h/f"), src.resolve("h/e")); // a new name for an unchanged file
            Files.delete(src.resolve("h/plain"));
            Files.createLink(src.resolve("h/plain"), src.resolve("h/c")); // a plain file becomes a link

            final CloneResult u = clone(d, dst, new CloneClient.Options().update(true));
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertEquals(inode(dst.resolve("h/a")), inode(dst.resolve("h/sub/b")), "a and b are still one file");
            assertEquals(inode(dst.resolve("h/e")), inode(dst.resolve("h/f")), "the new link was made");
            assertEquals(inode(dst.resolve("h/c")), inode(dst.resolve("h/plain")), "plain became a link to c");
            assertNotEquals(inode(dst.resolve("h/c")), inode(dst.resolve("h/d")), "d was cut loose from c");
            assertEquals(2L, ((Number)Files.getAttribute(dst.resolve("h/a"), "unix:nlink")).longValue());
            assertFalse(FileTreeRecipient.isIncomplete(dst));
            // files hard-linked in the copy are sent again rather than written in place (a, c), d's new content and
            // at most e, which gained a name; plain's old bytes never travel
            assertTrue(u.dataBytes() <= 300_000 + 100_000 + 100_000 + 50_000, "data sent " + u);
        }
    }

    /** The ctime of every entry under {@code root} but the root itself (which the update's marker changes), by path. */
    static java.util.Map<String, Object> ctimes(final Path root) throws IOException
    {
        final java.util.Map<String, Object> m = new java.util.TreeMap<>();
        try (java.util.stream.Stream<Path> s = Files.walk(root))
        {
            for (final Path p : (Iterable<Path>)s::iterator)
            {
                if (!p.equals(root))
                {
                    m.put(root.relativize(p).toString(), Files.getAttribute(p, "unix:ctime",
                        java.nio.file.LinkOption.NOFOLLOW_LINKS));
                }
            }
        }
        return m;
    }

    /** @return the paths whose ctime differs between two {@link #ctimes} of one tree. */
    static List<String> moved(final java.util.Map<String, Object> before, final java.util.Map<String, Object> after)
    {
        final List<String> out = new java.util.ArrayList<>();
        for (final java.util.Map.Entry<String, Object> e : before.entrySet())
        {
            if (!e.getValue().equals(after.get(e.getKey())))
            {
                out.add(e.getKey());
            }
        }
        return out;
    }

    @Test
    void aNoChangeUpdateTouchesNoEntry() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        buildTree(src, new Random(10));
        try (DonorService d = donor(src))
        {
            clone(d, dst, new CloneClient.Options());
            Thread.sleep(200); // past the donor's racy window, and far past the file system's timestamp granularity
            final java.util.Map<String, Object> before = ctimes(dst);
            final CloneResult none = clone(d, dst, new CloneClient.Options().update(true));
            assertEquals(List.of(), TreeComparator.compare(src, dst));
            assertEquals(0, none.dataBytes());
            // no chown, utimensat, chmod, xattr call or new symlink: any of them would have moved a ctime
            assertEquals(List.of(), moved(before, ctimes(dst)), "a no-change update leaves every entry as it was");
        }
    }

    @Test
    void anEntryWhoseMetadataDiffersIsFixedAndOnlyIt() throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        buildTree(src, new Random(11));
        try (DonorService d = donor(src))
        {
            clone(d, dst, new CloneClient.Options());
            // metadata that differs, on either side, with the size and mtime of every file kept
            Files.setPosixFilePermissions(src.resolve("small/f2"), PosixFilePermissions.fromString("rw-------"));
            final String fileMode = PosixFilePermissions.toString(Files.getPosixFilePermissions(src.resolve("small/f9")));
            Files.setPosixFilePermissions(dst.resolve("small/f9"), PosixFilePermissions.fromString("rw-------"));
            final String dirMode = PosixFilePermissions.toString(Files.getPosixFilePermissions(src.resolve("moveme")));
            Files.setPosixFilePermissions(dst.resolve("moveme"), PosixFilePermissions.fromString("rwx------"));
            Files.setLastModifiedTime(dst.resolve("big"), FileTime.fromMillis(1_200_000_000_000L));
            Files.setLastModifiedTime(dst.resolve("small/f3"), FileTime.fromMillis(1_200_000_000_000L)); // sent again
            xattr(src.resolve("small/f4"), "user.k", "v");
            Files.getFileAttributeView(src.resolve("small/f7"), UserDefinedFileAttributeView.class).delete("colour");
            xattr(dst.resolve("small/f8"), "user.stray", "x"); // the donor never had it
            Files.delete(dst.resolve("link"));
            Files.createSymbolicLink(dst.resolve("link"), Path.of("small/f2")); // retargeted in the copy
            Thread.sleep(200);
            final java.util.Map<String, Object> mid = ctimes(dst);
            final CloneResult fixed = clone(d, dst, new CloneClient.Options().update(true));
            assertEquals(List.of(), TreeComparator.compare(src, dst), fixed.toString());
            assertEquals(fileMode, PosixFilePermissions.toString(Files.getPosixFilePermissions(dst.resolve("small/f9"))),
                "a file of the mode new files get here, which the copy had changed");
            assertEquals(dirMode, PosixFilePermissions.toString(Files.getPosixFilePermissions(dst.resolve("moveme"))));
            final java.util.Map<String, Object> after = ctimes(dst);
            for (final String p : List.of("small/f2", "small/f9", "moveme", "big", "small/f3", "small/f4", "small/f7",
                "small/f8", "link"))
            {
                assertNotEquals(mid.get(p), after.get(p), p + " was fixed");
            }
            for (final String p : List.of("small/f1", "small/f20", "small/f59", "big/a.bin", "big/d.bin",
                "moveme/inner", "moveme/inner/x0", "renamed.bin", "typeswap2/sub"))
            {
                assertEquals(mid.get(p), after.get(p), p + " was left alone");
            }
        }
    }
}
