"""Editorial: proxy movie renders and their per-shot segments.

Registered on `Base` by the import at the end of `models.py`.
"""

from __future__ import annotations
