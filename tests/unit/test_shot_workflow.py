"""The shot workflow and the studio's words have one home each (shots/status.py, aipipe_shared.vocabulary)."""

from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint

from aipipe_shared import vocabulary
from sync_server.auth.permissions import ROLES as PERMISSION_ROLES
from sync_server.db.models import Job, Shot, User, Version
from sync_server.shots import status as workflow


def _check_values(table: type, column: str) -> str:
    texts = [str(c.sqltext) for c in table.__table__.constraints if isinstance(c, CheckConstraint)]
    [text] = [t for t in texts if t.startswith(f"{column} IN")]
    return text


def test_database_constraints_use_the_vocabulary() -> None:
    for table, column, values in (
        (Shot, "status", vocabulary.SHOT_STATUSES),
        (Version, "stage", vocabulary.VERSION_STAGES),
        (User, "role", vocabulary.ROLES),
        (Job, "status", vocabulary.JOB_STATUSES),
    ):
        text = _check_values(table, column)
        assert all(f"'{value}'" in text for value in values), (table, text)


def test_every_role_has_permissions_and_every_status_its_moves() -> None:
    assert set(PERMISSION_ROLES) == set(vocabulary.ROLES)
    assert set(workflow.TRANSITIONS) == set(vocabulary.SHOT_STATUSES)
    assert all(set(moves) <= set(vocabulary.SHOT_STATUSES) for moves in workflow.TRANSITIONS.values())


@pytest.mark.parametrize(
    ("stage", "status", "moves"),
    [
        ("playblast", "draft", ["ready", "review"]),
        ("playblast", "generating", ["review"]),
        ("playblast", "approved", []),
        ("previz", "draft", []),
        ("previz", "ready", ["review"]),
        ("render", "generating", []),
    ],
)
def test_publishing_moves_a_shot_only_forward_and_only_through_allowed_steps(
    stage: str, status: str, moves: list[str]
) -> None:
    assert workflow.moves_on_publish(stage, status) == moves
    path = [status, *moves]
    assert all(workflow.is_allowed(a, b) for a, b in zip(path, path[1:], strict=False))


def test_verdicts_move_only_the_newest_version_s_shot() -> None:
    assert workflow.moves_on_verdict("approve", "previz", True, "review") == ["approved"]
    assert workflow.moves_on_verdict("approve", "previz", False, "review") == []
    assert workflow.moves_on_verdict("reject", "render", True, "review") == ["generating"]
    assert workflow.moves_on_verdict("approve", "final", True, "review") == ["approved", "final"]
