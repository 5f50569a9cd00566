"""Render-agent tests: ComfyUI client, stand-in protocol, workflow templates."""
