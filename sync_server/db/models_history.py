"""Change sets for undo/redo of shot-list edits.

Registered on `Base` by the import at the end of `models.py`.
"""

from __future__ import annotations
