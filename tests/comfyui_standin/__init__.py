"""A ComfyUI stand-in that speaks the captured 0.3.64 protocol, for tests only (never shipped)."""
