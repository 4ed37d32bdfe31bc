"""Host-side file access to a local sandbox's root that never follows the sandbox's symlinks.

The sandbox can write anything under its root, including symlinks pointing at host files.
Every path is therefore walked one component at a time with `O_NOFOLLOW` from a directory
descriptor, so a file operation can never leave the root, however the tree changes
underneath it. These functions block: call them in a thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from warren.sandbox.protocol import SandboxFileError, normalize_path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def refuse_mounted(path: str, mounted: Iterable[str]) -> None:
    """System paths are read-only mounts inside the sandbox: refuse to write or read under them."""
    normal = normalize_path(path)
    for mount in mounted:
        if normal == mount or normal.startswith(mount + "/"):
            raise SandboxFileError("permission_denied", path)


def _walk(root: Path, path: str, *, create: bool) -> tuple[int, str]:
    """Open the parent directory of `path` inside `root`; return its fd and the last name."""
    parts = [part for part in normalize_path(path).split("/") if part]
    if not parts:
        raise SandboxFileError("is_directory", path)
    fd = os.open(root, _DIR_FLAGS)
    try:
        for name in parts[:-1]:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise SandboxFileError("file_not_found", path) from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError as exc:
        os.close(fd)
        raise _file_error(exc, path) from None
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def _file_error(exc: OSError, path: str) -> SandboxFileError:
    if isinstance(exc, SandboxFileError):
        return exc
    if exc.errno == errno.ENOENT:
        return SandboxFileError("file_not_found", path)
    if exc.errno == errno.EISDIR:
        return SandboxFileError("is_directory", path)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SandboxFileError("permission_denied", path)
    # ELOOP / ENOTDIR: a symlink or a file where a directory should be
    return SandboxFileError("invalid_path", path)


def write_file(root: Path, path: str, data: bytes) -> None:
    """Write `data` to `path` under `root` (mode 644), creating parent directories."""
    parent, name = _walk(root, path, create=True)
    try:
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            0o644,
            dir_fd=parent,
        )
    except OSError as exc:
        raise _file_error(exc, path) from None
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SandboxFileError("invalid_path", path)
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise _file_error(exc, path) from None
    finally:
        os.close(fd)


def open_file(root: Path, path: str) -> int:
    """An fd open for reading the regular file at `path` under `root`."""
    parent, name = _walk(root, path, create=False)
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent
        )
    except OSError as exc:
        raise _file_error(exc, path) from None
    finally:
        os.close(parent)
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        os.set_blocking(fd, True)
        return fd
    os.close(fd)
    raise SandboxFileError("is_directory" if stat.S_ISDIR(mode) else "invalid_path", path)


def repair_root(root: Path, system_dirs: Iterable[str]) -> bool:
    """Make the root's mount points and system links right again (a sandbox may have run
    `rm /bin; mkdir /bin`), so bubblewrap can mount over them. False if the root is gone."""
    try:
        os.lstat(root)
    except FileNotFoundError:
        return False
    for name in system_dirs:
        host = Path("/") / name
        if not os.path.lexists(host):
            continue
        inside = root / name
        target = os.readlink(host) if host.is_symlink() else None
        try:
            found = os.lstat(inside)
        except FileNotFoundError:
            found = None
        if found is not None:
            if target is not None and stat.S_ISLNK(found.st_mode):
                if os.readlink(inside) == target:
                    continue
            elif target is None and stat.S_ISDIR(found.st_mode):
                continue
            remove_tree(inside)
        if target is not None:
            os.symlink(target, inside)
    workspace = root / "workspace"
    if workspace.is_symlink() or not workspace.is_dir():
        remove_tree(workspace)
        workspace.mkdir()
    return True


def remove_tree(path: Path) -> None:
    """Remove `path` whatever the sandbox did to the permissions inside it."""
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    # A sandbox may leave directories without write or search permission: open them first.
    for current, dirs, _files in os.walk(path, followlinks=False):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(current, name), 0o700, follow_symlinks=False)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    shutil.rmtree(path)
