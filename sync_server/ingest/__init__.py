"""Scan ingest: find image sequences and movies, probe them, match them to shots, register versions."""
