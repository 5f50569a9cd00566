"""An OpenAI-compatible chat-completions stand-in for tests (the LLM cannot run here)."""
