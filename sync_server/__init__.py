"""The AIPipeline sync server. Its version is the project's one version number (`aipipe_shared.version`)."""

from aipipe_shared.version import __version__

__all__ = ["__version__"]
