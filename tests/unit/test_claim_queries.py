"""The claim pass's per-lease queries find jobs by id, however long the queue (SQLite's query plans)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.sql import Executable

from sync_server.db.engine import make_engine
from sync_server.db.migrate import upgrade
from sync_server.farm.claim import _LOCK, _PARENTS


def _plan(url: str, statement: Executable, params: dict[str, Any]) -> str:
    """SQLite's plan for `statement` as SQLAlchemy sends it (the SQL and values caught on their way)."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []
    event.listen(
        engine, "before_cursor_execute", lambda _c, _cur, sql, values, *_: sent.append((sql, values))
    )
    try:
        with engine.connect() as conn:
            conn.execute(statement, params).all()
            sql, values = sent[-1]
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", values).all()
        return " | ".join(str(row[-1]) for row in rows)
    finally:
        engine.dispose()


def test_locking_the_chosen_jobs_looks_them_up_by_id_not_through_the_queue_index(tmp_path) -> None:
    # Without ANALYZE statistics SQLite used to prefer the (status, priority) index for
    # "id IN (...) AND status = 'queued'" and walk every queued job for each lease.
    url = f"sqlite:///{tmp_path / 'q.db'}"
    upgrade(url)
    ids = [uuid.uuid4() for _ in range(8)]
    plan = _plan(url, _LOCK, {"job_ids": ids})
    assert "(id=?)" in plan, plan
    assert "ix_jobs_queue" not in plan and "ix_jobs_claim" not in plan, plan


def test_reading_the_parents_of_leased_jobs_uses_the_dependency_key(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    upgrade(url)
    plan = _plan(url, _PARENTS, {"job_ids": [uuid.uuid4() for _ in range(8)]})
    assert "SCAN job_dependencies" not in plan, plan
