"""Versions of shots: publishing (streamed uploads, atomic numbering), media facts, review."""
