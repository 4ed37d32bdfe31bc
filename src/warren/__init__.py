"""Warren: a self-hosted deep-agent server."""

from importlib.metadata import version

__version__ = version("warren")
