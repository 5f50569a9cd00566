"""The prompt engine: a shot and a workflow become positive/negative prompts and a LoRA chain.
See docs/prompts.md."""
