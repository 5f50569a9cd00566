"""The one version number of AIPipeline: the server, the agent and the Blender extension carry it."""

__version__ = "0.1.0"
