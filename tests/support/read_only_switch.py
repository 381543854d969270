"""A folder that can turn read-only and back while files on it are open for writing: a FUSE mirror of another
folder whose every write fails with EROFS while `read_only` is set, as a disk remounted read-only does.

Linux refuses `mount -o remount,ro` while a process holds a file open for writing (a running service always
does), and ext4's emergency read-only (after an I/O error) lasts until the file system is unmounted; this is
how a database's storage turning read-only under a running service, then writable again, is reproduced.
Needs root, /dev/fuse, libfuse2 and fusepy.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

try:
    from fuse import FUSE, FuseOSError, Operations
except (ImportError, OSError) as missing:  # fusepy raises OSError when libfuse is not installed
    FUSE, FuseOSError, Operations = None, OSError, object
    MISSING = f"fusepy and libfuse2 are needed: {missing}"
else:
    MISSING = ""

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class _Mirror(Operations):  # type: ignore[misc]
    """Every call on the mount is the same call on the backing folder, unless it writes while read-only."""

    def __init__(self, backing: Path) -> None:
        self.backing = str(backing)
        self.read_only = False

    def _path(self, path: str) -> str:
        return self.backing + path

    def _writable(self) -> None:
        if self.read_only:
            raise FuseOSError(errno.EROFS)

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.lstat(self._path(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime")
        return {key: getattr(st, key) for key in keys}

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._path(path))]

    def access(self, path: str, amode: int) -> None:
        if amode & os.W_OK:
            self._writable()
        if not os.access(self._path(path), amode):
            raise FuseOSError(errno.EACCES)

    def statfs(self, path: str) -> dict[str, Any]:
        st = os.statvfs(self._path(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_frsize")
        found = {key: getattr(st, key) for key in keys}
        found["f_flag"] = st.f_flag | (os.ST_RDONLY if self.read_only else 0)
        found["f_namemax"] = st.f_namemax
        return found

    def open(self, path: str, flags: int) -> int:
        if flags & WRITE_FLAGS:
            self._writable()
        return os.open(self._path(path), flags)

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        self._writable()
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        self._writable()
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> None:
        self._writable()
        os.truncate(self._path(path), length)

    def fsync(self, path: str, datasync: int, fh: int) -> None:
        self._writable()
        os.fsync(fh)

    def flush(self, path: str, fh: int) -> None:
        return None

    def release(self, path: str, fh: int) -> None:
        os.close(fh)

    def unlink(self, path: str) -> None:
        self._writable()
        os.unlink(self._path(path))

    def rename(self, old: str, new: str) -> None:
        self._writable()
        os.rename(self._path(old), self._path(new))

    def mkdir(self, path: str, mode: int) -> None:
        self._writable()
        os.mkdir(self._path(path), mode)

    def chmod(self, path: str, mode: int) -> None:
        self._writable()
        os.chmod(self._path(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._writable()
        os.chown(self._path(path), uid, gid)

    def utimens(self, path: str, times: tuple[float, float] | None = None) -> None:
        self._writable()
        os.utime(self._path(path), times)


class ReadOnlySwitch:
    """`mountpoint` mirrors `backing`, served by a process of its own (a FUSE server in the test's process
    could deadlock with it over the GIL); `read_only(True)` makes it refuse writes, `read_only(False)` takes
    them again. A context manager: mounted on entry, unmounted on exit."""

    def __init__(self, backing: Path, mountpoint: Path) -> None:
        backing.mkdir(parents=True, exist_ok=True)
        mountpoint.mkdir(parents=True, exist_ok=True)
        self.mountpoint = mountpoint
        self._command = [sys.executable, __file__, str(backing), str(mountpoint)]
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ReadOnlySwitch:
        self._process = subprocess.Popen(self._command)
        deadline = time.monotonic() + 10
        while not os.path.ismount(self.mountpoint):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise OSError("the FUSE mirror did not mount")
            time.sleep(0.05)
        return self

    def read_only(self, value: bool) -> None:
        """Refuse (True) or take (False) writes from now on, open files included."""
        assert self._process is not None
        self._process.send_signal(signal.SIGUSR1 if value else signal.SIGUSR2)
        time.sleep(0.1)  # the signal is handled between two of the server's calls

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["umount", "-l", str(self.mountpoint)], check=False, stderr=subprocess.DEVNULL)
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _serve(backing: Path, mountpoint: Path) -> None:
    mirror = _Mirror(backing)
    signal.signal(signal.SIGUSR1, lambda *_: setattr(mirror, "read_only", True))
    signal.signal(signal.SIGUSR2, lambda *_: setattr(mirror, "read_only", False))
    FUSE(mirror, str(mountpoint), foreground=True, nothreads=True)


def available() -> str:
    """Why a ReadOnlySwitch cannot be mounted here ("" when it can)."""
    if os.geteuid() != 0:
        return "mounting a FUSE file system needs root"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    return MISSING


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), Path(sys.argv[2]))
