"""The production tree on disk: layout from the naming engine, atomic writes, confirm, metadata files."""
