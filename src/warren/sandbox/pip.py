"""Give a new sandbox `pip` when its image lacks it: built in, else `ensurepip`, else the
package manager. Best effort for any provider: it reports, it never raises."""

from __future__ import annotations

from warren.logs import get_logger
from warren.sandbox.protocol import SandboxError, SandboxProvider

log = get_logger(__name__)

CHECK = "python3 -m pip --version"
ENSUREPIP = "python3 -m ensurepip --upgrade"
# Debian-family images ship python3 without ensurepip; Alpine names the package py3-pip.
PACKAGE_MANAGER = (
    "if command -v apt-get >/dev/null 2>&1; then"
    " apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
    " apt-get install -y -qq --no-install-recommends python3-pip;"
    " elif command -v apk >/dev/null 2>&1; then apk add --no-cache -q py3-pip;"
    " elif command -v dnf >/dev/null 2>&1; then dnf install -y -q python3-pip;"
    " elif command -v yum >/dev/null 2>&1; then yum install -y -q python3-pip;"
    " else exit 127; fi"
)
CHECK_TIMEOUT = 60.0
INSTALL_TIMEOUT = 300.0


async def ensure_pip(provider: SandboxProvider, sandbox_id: str) -> bool:
    """True when `python3 -m pip` works in the sandbox afterwards."""
    try:
        if await _works(provider, sandbox_id):
            return True
        for step in (ENSUREPIP, PACKAGE_MANAGER):
            result = await provider.execute(sandbox_id, step, timeout=INSTALL_TIMEOUT)
            if result.exit_code == 0 and await _works(provider, sandbox_id):
                log.info("installed pip in the sandbox", sandbox_id=sandbox_id, step=step)
                return True
    except SandboxError as exc:
        log.warning("could not check pip in the sandbox", sandbox_id=sandbox_id, error=str(exc))
        return False
    log.warning("the sandbox has no pip and none could be installed", sandbox_id=sandbox_id)
    return False


async def _works(provider: SandboxProvider, sandbox_id: str) -> bool:
    result = await provider.execute(sandbox_id, CHECK, timeout=CHECK_TIMEOUT)
    return result.exit_code == 0
