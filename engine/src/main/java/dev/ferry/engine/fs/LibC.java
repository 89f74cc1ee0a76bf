package dev.ferry.engine.fs;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The libc functions {@link JnaFs} calls, bound by JNA direct mapping (static natives: no proxy, no boxing, no
 * allocation per call for primitive arguments). Paths and names are NUL-terminated byte arrays; {@code size_t},
 * {@code ssize_t}, {@code off_t} and {@code dev_t} are 64 bits, as on every architecture {@link NativeFs} binds on.
 * {@code open} is variadic in C; passing the mode always is how glibc's own callers and the ABI of these
 * architectures allow it. {@code statx} needs glibc 2.28 (2018). {@code mknod} is in {@link Mknod}, since glibc exports it only from 2.33 on and a missing symbol fails the whole
 * registration. errno is read with {@link Native#getLastError()} right after a call, on the calling thread.
 * <p>
 * Constants are the asm-generic values, shared by x86-64, aarch64 and riscv64, except where aarch64 differs
 * ({@link #O_NOFOLLOW}). Any thread.
 */
final class LibC
{
    static final int AT_FDCWD = -100;
    static final int AT_SYMLINK_NOFOLLOW = 0x100;
    static final int AT_EMPTY_PATH = 0x1000;

    static final int O_RDONLY = 0;
    static final int O_WRONLY = 1;
    static final int O_CREAT = 0100;
    static final int O_NOCTTY = 0400;
    static final int O_NONBLOCK = 04000;
    static final int O_CLOEXEC = 02000000;
    static final int O_NOFOLLOW = "aarch64".equals(System.getProperty("os.arch")) ? 0100000 : 0400000;

    static final int SEEK_END = 2;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;

    /** struct statx (include/uapi/linux/stat.h): the same layout on every architecture. */
    static final int STATX_TYPE = 0x1;
    static final int STATX_MODE = 0x2;
    static final int STATX_NLINK = 0x4;
    static final int STATX_UID = 0x8;
    static final int STATX_GID = 0x10;
    static final int STATX_MTIME = 0x40;
    static final int STATX_CTIME = 0x80;
    static final int STATX_INO = 0x100;
    static final int STATX_SIZE = 0x200;
    static final int STATX_BLOCKS = 0x400;
    static final int STATX_BASIC_STATS = 0x7ff;
    static final int STATX_BUFFER_BYTES = 256;
    static final int STATX_MASK_OFFSET = 0;
    static final int STATX_NLINK_OFFSET = 16;
    static final int STATX_UID_OFFSET = 20;
    static final int STATX_GID_OFFSET = 24;
    static final int STATX_MODE_OFFSET = 28;
    static final int STATX_INO_OFFSET = 32;
    static final int STATX_SIZE_OFFSET = 40;
    static final int STATX_BLOCKS_OFFSET = 48;
    static final int STATX_CTIME_OFFSET = 96;
    static final int STATX_MTIME_OFFSET = 112;
    static final int STATX_RDEV_MAJOR_OFFSET = 128;
    static final int STATX_RDEV_MINOR_OFFSET = 132;
    static final int STATX_DEV_MAJOR_OFFSET = 136;
    static final int STATX_DEV_MINOR_OFFSET = 140;
    /** A statx_timestamp is {s64 tv_sec; u32 tv_nsec; s32 reserved}. */
    static final int TIMESTAMP_NSEC_OFFSET = 8;

    /** Reads fields of a statx buffer filled by the kernel, in native byte order, without allocating. */
    static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.nativeOrder());
    static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());
    static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.nativeOrder());

    static final long UTIME_OMIT = (1L << 30) - 2;

    static
    {
        Native.register(LibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private LibC()
    {
    }

    static native int open(byte[] path, int flags, int mode);

    static native int close(int fd);

    static native long lseek(int fd, long offset, int whence);

    static native int syncfs(int fd);

    static native int ftruncate(int fd, long length);

    static native int statx(int dirfd, byte[] path, int flags, int mask, byte[] statxBuf);

    static native int mkfifo(byte[] path, int mode);

    static native int symlink(byte[] target, byte[] linkPath);

    static native long readlink(byte[] path, byte[] buf, long size);

    static native long llistxattr(byte[] path, byte[] list, long size);

    static native long lgetxattr(byte[] path, byte[] name, byte[] value, long size);

    static native int lsetxattr(byte[] path, byte[] name, byte[] value, long size, int flags);

    static native int lremovexattr(byte[] path, byte[] name);

    static native int utimensat(int dirfd, byte[] path, long[] times, int flags);

    static native int futimens(int fd, long[] times);

    static native long pwrite(int fd, com.sun.jna.Pointer buf, long count, long offset);

    static native long pread(int fd, com.sun.jna.Pointer buf, long count, long offset);

    /** {@code mknod(2)}, bound on its own: glibc before 2.33 exports only {@code __xmknod}. Any thread. */
    static final class Mknod
    {
        static
        {
            Native.register(Mknod.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
        }

        private Mknod()
        {
        }

        static native int mknod(byte[] path, int mode, long dev);
    }
}
