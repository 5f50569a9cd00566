"""Scenario breakdown drafts and versioned prompt templates.

Registered on `Base` by the import at the end of `models.py`.
"""

from __future__ import annotations
