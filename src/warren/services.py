"""The services one app instance runs with, built in the lifespan (see `app.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from warren.agent.builder import Agents
from warren.auth.service import AuthService
from warren.config import Settings
from warren.runs.manager import RunManager
from warren.sandbox.files import SandboxFiles
from warren.sandbox.manager import SandboxManager
from warren.storage.factory import Storage
from warren.threads import ThreadService
from warren.tools import Toolbox


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: Storage
    agents: Agents
    auth: AuthService
    threads: ThreadService
    runs: RunManager
    sandboxes: SandboxManager
    files: SandboxFiles
    toolbox: Toolbox
