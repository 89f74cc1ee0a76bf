package dev.ferry.jmh;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import dev.ferry.engine.fs.DataExtentCursor;
import dev.ferry.engine.fs.EntryStat;
import dev.ferry.engine.fs.NativeFs;
import dev.ferry.engine.fs.PathBytes;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the per-entry work of the scan and the apply path costs with the fs seam: a name's raw bytes from the
 * {@code Path} a {@code DirectoryStream} gave ({@link PathBytes#fileName}), the {@code Path} for a name from the wire
 * ({@link PathBytes#resolve}), one lstat ({@link EntryStat#read}, explicit attributes, against the JDK's
 * {@code "unix:*"} which also looks up user and group names, and against {@link NativeFs#stat}), and the data extents
 * of a file.
 * <p>
 * {@code kind}: {@code ascii} and {@code utf8} take PathBytes' fast path (String is exact), {@code invalid} (a name
 * with byte 0xff) the {@code toUri} / {@code Path.of(URI)} route. Scores are nanoseconds per entry; times a million
 * is the cost of a million-file tree on one thread. One thread; state per thread; the files live in a temporary
 * directory made and removed per trial.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class FsSeamBenchmark
{
    /** Which kind of name: ascii, utf8 (valid, non-ASCII) or invalid (not UTF-8). */
    @Param({"ascii", "utf8", "invalid"})
    public String kind;

    private final NativeFs fs = NativeFs.instance();
    private Path dir;
    private Path file;
    private byte[] name;
    private byte[] cPath;
    private byte[] sparseCPath;
    private DataExtentCursor extents;

    @Setup(Level.Trial)
    public void setup() throws IOException
    {
        dir = Files.createTempDirectory("ferry-fs-bench");
        switch (kind)
        {
            case "ascii" -> name = "report-2024-final.txt".getBytes(StandardCharsets.US_ASCII);
            case "utf8" -> name = "rapport-année-été.txt".getBytes(StandardCharsets.UTF_8);
            case "invalid" -> name = new byte[] { 'r', 'e', 'p', 'o', 'r', 't', (byte)0xff, '.', 't', 'x', 't' };
            default -> throw new IllegalArgumentException("kind must be ascii, utf8 or invalid: " + kind);
        }
        file = Files.write(PathBytes.resolve(dir, name), new byte[10_000]);
        try (Stream<Path> listed = Files.list(dir))
        {
            file = listed.findFirst().orElseThrow(); // as a DirectoryStream returns it
        }
        cPath = PathBytes.cPath(file);
        final Path sparse = dir.resolve("sparse");
        try (RandomAccessFile raf = new RandomAccessFile(sparse.toFile(), "rw"))
        {
            raf.write(1);
            raf.seek(1L << 30);
            raf.write(2);
        }
        sparseCPath = PathBytes.cPath(sparse);
        extents = fs.newDataExtentCursor();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        extents.close();
        try (Stream<Path> all = Files.walk(dir))
        {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /**
     * @return the name's raw bytes, from a listed Path.
     */
    @Benchmark
    public byte[] nameBytesOfListedPath()
    {
        return PathBytes.fileName(file);
    }

    /**
     * @return the Path for a name from the wire under the target directory.
     */
    @Benchmark
    public Path pathOfWireName()
    {
        return PathBytes.resolve(dir, name);
    }

    /**
     * Baseline: what the old code paid for a name (lossy for invalid names).
     *
     * @return the JDK's String for the name.
     */
    @Benchmark
    public String baselineFileNameToString()
    {
        return file.getFileName().toString();
    }

    /**
     * @return the entry's lstat, explicit attributes.
     */
    @Benchmark
    public EntryStat entryStat() throws IOException
    {
        return EntryStat.read(file);
    }

    /**
     * @return the entry's lstat by one native statx (with st_blocks), no Map.
     */
    @Benchmark
    public EntryStat nativeStat() throws IOException
    {
        return fs.stat(cPath);
    }

    /**
     * @return the JDK's {@code unix:*} map, which adds owner and group names.
     */
    @Benchmark
    public Map<String, Object> unixStar() throws IOException
    {
        return Files.readAttributes(file, "unix:*", LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * @return extents of a 10 kB file (open, statx, two lseeks, close in the native cursor).
     */
    @Benchmark
    public long extentsOfSmallFile() throws IOException
    {
        return walk(cPath);
    }

    /**
     * @return extents of a 1 GiB sparse file with data at both ends.
     */
    @Benchmark
    public long extentsOfSparseFile() throws IOException
    {
        return walk(sparseCPath);
    }

    private long walk(final byte[] path) throws IOException
    {
        long sum = 0;
        extents.open(path);
        while (extents.next())
        {
            sum += extents.length();
        }
        extents.close();
        return sum;
    }
}
