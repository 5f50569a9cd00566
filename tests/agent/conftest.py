"""Agent tests: registers the ComfyUI stand-in fixture `comfy_standin`."""

from tests.comfyui_standin.fixtures import comfy_standin  # noqa: F401  (fixture registration)
