"""The render agent: registers its GPUs, claims jobs from the sync server and runs them through ComfyUI."""
