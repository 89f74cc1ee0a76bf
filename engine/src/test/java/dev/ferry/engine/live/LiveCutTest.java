package dev.ferry.engine.live;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.config.CloneSettings;
import dev.ferry.engine.CloneStage;
import dev.ferry.engine.donor.DonorService;
import dev.ferry.engine.recipient.CloneClient;
import dev.ferry.engine.recipient.CloneResult;
import dev.ferry.engine.remote.FaultProxy;
import dev.ferry.engine.verify.TreeComparator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A live clone with freeze hooks, cut by the fault proxy once it is in CHANGE COPY, or in FREEZE: the client
 * reconnects, a thaw follows every freeze (a cut frozen pass is thawed at once and ended), and the clone converges
 * again to the tree as it stood inside the last freeze.
 */
class LiveCutTest
{
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = CloneStage.class, names = { "CHANGE_COPY", "FREEZE" })
    void aCutInAStageIsSurvivedAndTheCopyIsTheFrozenTree(final CloneStage cutIn) throws Exception
    {
        final Path src = dir.resolve("src");
        final Path dst = dir.resolve("dst");
        final Path ref = dir.resolve("reference");
        final Path pause = dir.resolve("pause");
        final Path paused = dir.resolve("paused");
        final Path hooks = dir.resolve("hooks.log");
        final LiveCloneTest.Writer w = new LiveCloneTest.Writer(src, pause, paused);
        final Thread t = new Thread(w, "writer");
        final Path freezing = dir.resolve("freezing");
        final Path cutArmed = dir.resolve("cut-armed");
        // a cut in FREEZE is armed from inside the freeze hook (the test arms the proxy, then lets the hook go on), so
        // the frozen pass's bytes are certain to cross it: a frozen pass of a few KB can end between two progress
        // ticks, and a cut armed after it would never fire
        final String gate = cutIn == CloneStage.FREEZE ? "touch '" + freezing + "' && while [ ! -f '" + cutArmed +
            "' ]; do sleep 0.01; done && " : "";
        final String freeze = gate + "echo freeze >> '" + hooks + "' && touch '" + pause + "' && while [ ! -f '" +
            paused + "' ]; do sleep 0.01; done && rm -rf '" + ref + "' && cp -a \"$FERRY_ROOT\" '" + ref + "'";
        final String thaw = "echo thaw >> '" + hooks + "' && rm -f '" + pause + "'";
        final AtomicBoolean armed = new AtomicBoolean();
        final CloneResult r;
        try (DonorService d = new DonorService(src, new InetSocketAddress("127.0.0.1", 0), new DonorService.Options()
            .settings(new CloneSettings().blockSize(64 * 1024).chunkSize(256 * 1024)).restartWindowMs(60_000)
            .freezeCmd(freeze).thawCmd(thaw)).start();
            FaultProxy proxy = new FaultProxy(d.address()))
        {
            t.start();
            final Thread arming = new Thread(() ->
            {
                while (cutIn == CloneStage.FREEZE && !w.stop.get() && !Files.exists(freezing))
                {
                    LockSupport.parkNanos(5_000_000);
                }
                if (cutIn == CloneStage.FREEZE && armed.compareAndSet(false, true))
                {
                    proxy.arm(FaultProxy.Kind.RESET, 1);
                }
                try
                {
                    Files.writeString(cutArmed, "");
                }
                catch (final java.io.IOException e)
                {
                    throw new java.io.UncheckedIOException(e);
                }
            }, "cut-arming");
            arming.setDaemon(true);
            arming.start();
            r = new CloneClient(proxy.address(), dst, new CloneClient.Options().threads(2).onProgress(p ->
            {
                if (cutIn == CloneStage.CHANGE_COPY && p.stage() == cutIn && armed.compareAndSet(false, true))
                {
                    proxy.arm(FaultProxy.Kind.RESET, 1);
                }
            }, 10)).run();
            assertTrue(proxy.faultsFired() >= 1, "the cut happened in " + cutIn);
        }
        finally
        {
            w.stop.set(true);
            t.join(10_000);
        }
        assertTrue(r.live().frozen(), r.toString());
        assertEquals(List.of(), TreeComparator.compare(ref, dst), "the copy is the tree inside the last freeze");
        // every freeze was thawed, once (the thaw hook is started, not waited for: give it a moment)
        long freezes = 0;
        long thaws = 0;
        for (int i = 0; i < 100; i++)
        {
            final List<String> lines = Files.readAllLines(hooks);
            freezes = lines.stream().filter("freeze"::equals).count();
            thaws = lines.stream().filter("thaw"::equals).count();
            if (freezes == thaws)
            {
                break;
            }
            Thread.sleep(20);
        }
        assertEquals(freezes, thaws, "a thaw for every freeze");
        System.out.println("LiveCutTest cut in " + cutIn + ": " + r.live() + ", restarts " + r.restarts() +
            ", freezes " + freezes);
    }
}
