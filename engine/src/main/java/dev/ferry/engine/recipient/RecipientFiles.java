package dev.ferry.engine.recipient;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.PeerText;

/**
 * File operations every recipient stage needs: delete a tree without following symlinks, force a directory, and
 * turn an {@link IOException} into a {@link FerryException} a person can act on (its text escaped: it may carry
 * names the donor chose). Stateless.
 */
final class RecipientFiles
{
    private RecipientFiles()
    {
    }

    /**
     * Delete a file, symlink or directory tree, never following symlinks.
     */
    static void deleteTree(final Path p) throws IOException
    {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
        {
            p.toFile().setWritable(true);
            p.toFile().setExecutable(true);
            try (DirectoryStream<Path> s = Files.newDirectoryStream(p))
            {
                for (final Path c : s)
                {
                    deleteTree(c);
                }
            }
        }
        Files.delete(p);
    }

    static void forceDirectory(final Path dir) throws IOException
    {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ))
        {
            ch.force(true);
        }
    }

    static FerryException io(final String what, final IOException ex)
    {
        final String m = String.valueOf(ex.getMessage());
        if (m.contains("No space left on device") || m.contains("Disk quota exceeded"))
        {
            return new FerryException(ErrorCode.DISK_FULL, what + ": the recipient's disk is full", ex);
        }
        return new FerryException(ErrorCode.IO_ERROR, what + ": " + PeerText.escape(ex.toString()), ex);
    }
}
