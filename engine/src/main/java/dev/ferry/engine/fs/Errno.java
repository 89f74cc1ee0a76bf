package dev.ferry.engine.fs;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * Linux errno values the native seam checks for (the asm-generic numbers, shared by x86-64, aarch64 and riscv64,
 * the only architectures {@link JnaFs} binds on) and their translation into the exceptions the JDK itself throws for
 * the same errno, so that callers handle one set of exception types whichever {@link NativeFs} runs. Stateless.
 */
final class Errno
{
    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EIO = 5;
    static final int ENXIO = 6;
    static final int E2BIG = 7;
    static final int EBADF = 9;
    static final int EACCES = 13;
    static final int EEXIST = 17;
    static final int ENOTDIR = 20;
    static final int EISDIR = 21;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final int ESPIPE = 29;
    static final int EROFS = 30;
    static final int ERANGE = 34;
    static final int ENAMETOOLONG = 36;
    static final int ENOSYS = 38;
    static final int ELOOP = 40;
    static final int ENODATA = 61;
    static final int EOPNOTSUPP = 95;
    static final int EDQUOT = 122;

    private Errno()
    {
    }

    static String name(final int errno)
    {
        switch (errno)
        {
            case EPERM: return "EPERM (operation not permitted)";
            case ENOENT: return "ENOENT (no such file or directory)";
            case EIO: return "EIO (input/output error)";
            case ENXIO: return "ENXIO (no such device or address)";
            case E2BIG: return "E2BIG (argument list too long)";
            case EBADF: return "EBADF (bad file descriptor)";
            case EACCES: return "EACCES (permission denied)";
            case EEXIST: return "EEXIST (file exists)";
            case ENOTDIR: return "ENOTDIR (not a directory)";
            case EISDIR: return "EISDIR (is a directory)";
            case EINVAL: return "EINVAL (invalid argument)";
            case ENOSPC: return "ENOSPC (no space left on device)";
            case ESPIPE: return "ESPIPE (illegal seek)";
            case EROFS: return "EROFS (read-only file system)";
            case ERANGE: return "ERANGE (result too large for the buffer)";
            case ENAMETOOLONG: return "ENAMETOOLONG (file name too long)";
            case ENOSYS: return "ENOSYS (function not implemented)";
            case ELOOP: return "ELOOP (a symbolic link where none may be)";
            case ENODATA: return "ENODATA (no such attribute)";
            case EOPNOTSUPP: return "EOPNOTSUPP (operation not supported)";
            case EDQUOT: return "EDQUOT (disk quota exceeded)";
            default: return "errno " + errno;
        }
    }

    /**
     * The exception for {@code errno} from {@code operation} on the path {@code cPath} (NUL-terminated raw bytes).
     */
    static IOException exception(final int errno, final String operation, final byte[] cPath)
    {
        final String file = PathBytes.display(cPath, 0, Math.max(cPath.length - 1, 0));
        final String reason = operation + ": " + name(errno);
        switch (errno)
        {
            case ENOENT: return new NoSuchFileException(file, null, reason);
            case EACCES:
            case EPERM: return new AccessDeniedException(file, null, reason);
            case EEXIST: return new FileAlreadyExistsException(file, null, reason);
            case ENOTDIR: return new NotDirectoryException(file);
            default: return new FileSystemException(file, null, reason);
        }
    }
}
