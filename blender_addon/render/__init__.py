"""Send to render: workflow picker, job submission, live job progress, loading the finished version."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("ops", "ui"))
