package dev.ferry.engine.recipient;

import dev.ferry.engine.layout.ManifestScanner;

import dev.ferry.core.protocol.ErrorCode;
import dev.ferry.core.protocol.FerryException;
import dev.ferry.core.protocol.PeerText;
import dev.ferry.core.protocol.Wire;

/**
 * Decides whether a path a donor sent may be written under the recipient's target. A path is accepted only if it
 * is relative, '/'-separated, has no empty, "." or ".." segment, no NUL byte, fits {@link Wire#MAX_STRING_BYTES},
 * and does not start with the recipient's state directory. Whether its parent is a real directory (not a symlink)
 * is checked by the recipient, which only accepts parents the donor announced as directories. Stateless.
 */
public final class PathGuard
{
    private PathGuard()
    {
    }

    /**
     * @param path a path from a FILE descriptor.
     * @return the parent path ("" for the target root).
     * @throws FerryException with {@link ErrorCode#PATH_REFUSED} saying why.
     */
    public static String check(final String path)
    {
        if (path.isEmpty())
        {
            throw refused(path, "it is empty");
        }
        if (Wire.utf8(path).length > Wire.MAX_STRING_BYTES)
        {
            throw refused(path, "it is longer than " + Wire.MAX_STRING_BYTES + " bytes");
        }
        if (path.charAt(0) == '/')
        {
            throw refused(path, "it is absolute");
        }
        if (path.indexOf('\0') >= 0)
        {
            throw refused(path, "it contains a NUL byte");
        }
        int start = 0;
        int lastSlash = -1;
        while (start <= path.length())
        {
            int end = path.indexOf('/', start);
            if (end < 0)
            {
                end = path.length();
            }
            final int len = end - start;
            if (len == 0)
            {
                throw refused(path, "it has an empty segment");
            }
            if (len == 1 && path.charAt(start) == '.')
            {
                throw refused(path, "it has a '.' segment");
            }
            if (len == 2 && path.charAt(start) == '.' && path.charAt(start + 1) == '.')
            {
                throw refused(path, "it has a '..' segment");
            }
            if (start == 0 && path.regionMatches(0, ManifestScanner.STATE_DIR, 0, len) &&
                len == ManifestScanner.STATE_DIR.length())
            {
                throw refused(path, "'" + ManifestScanner.STATE_DIR + "' is reserved for the recipient's clone state");
            }
            if (start == 0 && path.regionMatches(0, ManifestScanner.HASH_STORE, 0, len) &&
                len == ManifestScanner.HASH_STORE.length())
            {
                throw refused(path, "'" + ManifestScanner.HASH_STORE + "' is reserved for the copy's hash store");
            }
            if (end == path.length())
            {
                break;
            }
            lastSlash = end;
            start = end + 1;
        }
        return lastSlash < 0 ? "" : path.substring(0, lastSlash);
    }

    static FerryException refused(final String path, final String why)
    {
        return new FerryException(ErrorCode.PATH_REFUSED, "refused donor path '" + printable(path) + "': " + why +
            "; nothing was written outside the target");
    }

    /**
     * @return the path escaped for messages ({@link PeerText}), cut after 300 characters.
     */
    public static String printable(final String path)
    {
        return PeerText.escape(path, 300);
    }
}
