package dev.ferry.engine.recipient;

import java.nio.file.Files;
import java.nio.file.Path;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.ferry.core.spi.AppliedState;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The torn-block record of a live clone's journal: written with the checkpoint that first counts the torn block as
 * applied, read back by {@code --resume} (so a file whose block was never written cannot be kept by size and mtime
 * after a crash), carried over by a resume of the same snapshot, and dropped with the next manifest.
 */
class TornJournalTest
{
    @TempDir
    Path dir;

    private RecipientJournal journalWithEntries(final int entries) throws Exception
    {
        final RecipientJournal j = new RecipientJournal(dir, false);
        j.begin(42, 1 << 20, 1 << 16, 16, entries);
        final UnsafeBuffer d = new UnsafeBuffer(new byte[] { 1, 2, 3, 4 });
        for (int i = 0; i < entries; i++)
        {
            j.appendDescriptor(d, 0, 4);
        }
        j.completeManifest();
        return j;
    }

    @Test
    void tornFilesAreJournaledWithTheCheckpointAndReadBack() throws Exception
    {
        final RecipientJournal j = journalWithEntries(100);
        j.markTorn(3);
        j.markTorn(70);
        j.markTorn(3);
        assertFalse(Files.exists(dir.resolve(RecipientJournal.TORN)), "recorded by the checkpoint, not before");
        final AppliedState state = new AppliedState(2);
        state.onApplied(0, 4, true);
        j.checkpoint(state, null);
        assertTrue(Files.exists(dir.resolve(RecipientJournal.TORN)));
        final RecipientJournal.Loaded loaded = RecipientJournal.load(dir);
        assertArrayEquals(new int[] { 3, 70 }, loaded.torn);
        assertEquals(1, loaded.applied.completeCount());

        // a resume of the same snapshot keeps them: the next checkpoint writes them again
        final RecipientJournal again = new RecipientJournal(dir, false);
        again.resumed(loaded);
        again.markTorn(5);
        again.checkpoint(state, null);
        assertArrayEquals(new int[] { 3, 5, 70 }, RecipientJournal.load(dir).torn);

        // a new manifest (the next pass's snapshot) drops them: its file indexes mean other files
        again.begin(43, 1 << 20, 1 << 16, 16, 1);
        assertFalse(Files.exists(dir.resolve(RecipientJournal.TORN)));
    }

    @Test
    void aJournalWithoutTornFilesLoadsNone() throws Exception
    {
        final RecipientJournal j = journalWithEntries(3);
        j.checkpoint(new AppliedState(1), null);
        assertFalse(Files.exists(dir.resolve(RecipientJournal.TORN)));
        assertEquals(0, RecipientJournal.load(dir).torn.length);
    }
}
