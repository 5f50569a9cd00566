"""An import's work (reading the file, validating, diffing, planning and writing) runs in a child process of
the server, not on the server process's GIL: the server logs which process planned and wrote each import,
and that process must be a live child of the server, not the server itself. The answer is the same as
ever (rows created, preview counts, change set) and the shots are there."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.processes import info_logging_server, log_records, parent_of
from tests.support.server import ServerProcess

ROWS = 2000
PLANNED = "shot list import planned in a worker process"
WRITTEN = "shot list import written"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Api]]:
    """A SQLite server of its own that logs at INFO (the shared test servers log warnings only)."""
    with info_logging_server(tmp_path / "server") as made:
        yield made


def _rows_csv(scene: str, count: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Scene", "Shot", "Status", "Description", "Duration (frames)"])
    for i in range(count):
        writer.writerow([scene, "", "draft", f"new shot {i} — 골목", 24 + i % 48])
    return buffer.getvalue().encode()


def test_preview_and_apply_are_planned_in_a_child_process(server: tuple[ServerProcess, Api]) -> None:
    process, api = server
    assert process.process is not None
    server_pid = process.process.pid
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    content = _rows_csv(scene["code"], ROWS)

    preview = api.admin.post(
        f"/api/projects/{pid}/shotlist/import", files={"file": ("big.csv", content)}, timeout=300
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["summary"]["added"] == ROWS
    applied = api.admin.post(
        f"/api/projects/{pid}/shotlist/apply", files={"file": ("big.csv", content)}, timeout=300
    )
    assert applied.status_code == 200, applied.text
    answer = applied.json()
    assert list(answer) == ["applied", "change_set_id", "preview"]
    assert len(answer["applied"]["created"]) == ROWS and answer["change_set_id"]
    assert answer["preview"]["summary"]["added"] == ROWS
    listing = api.admin.get(f"/api/projects/{pid}/shots", params={"limit": 1})
    assert listing.json()["total"] == ROWS

    records = log_records(process.log(), PLANNED)
    assert [r["apply"] for r in records] == [False, True], records
    for record in records:
        assert record["rows"] == ROWS
        assert record["server_pid"] == server_pid
        assert record["worker_pid"] != server_pid, record  # planned on the server's own GIL
        # A process of the server's pool (still running: the pool keeps its processes).
        parent = parent_of(record["worker_pid"])
        assert parent in (server_pid, None), (record, parent)
        assert record["cpu_s"] > 0
    # The write transaction too: in the import process that planned it.
    (written,) = log_records(process.log(), WRITTEN)
    assert written["worker_pid"] == records[1]["worker_pid"] and written["rows"] == ROWS


def test_a_blocked_file_is_refused_from_the_child_with_its_problems(
    server: tuple[ServerProcess, Api],
) -> None:
    """Errors found in the child come back as the same problem+json (field, row) as before."""
    _process, api = server
    project = api.project()
    pid = project["id"]
    api.scene(pid)
    content = b"Scene,Shot,Status\nNOPE_999,,draft\n"
    applied = api.admin.post(f"/api/projects/{pid}/shotlist/apply", files={"file": ("bad.csv", content)})
    assert applied.status_code == 422, applied.text
    problem = applied.json()
    assert problem["errors"][0]["row"] == 2, problem
    bad_selection = api.admin.post(
        f"/api/projects/{pid}/shotlist/apply",
        files={"file": ("bad.csv", content)},
        data={"selection": "{not json"},
    )
    assert bad_selection.status_code == 422, bad_selection.text
    assert bad_selection.json()["errors"][0]["field"] == "selection"
    unreadable = api.admin.post(
        f"/api/projects/{pid}/shotlist/import", files={"file": ("x.xlsx", b"PK\x03\x04 not a zip")}
    )
    assert unreadable.status_code == 200, unreadable.text  # a preview lists the file's problems
    assert not unreadable.json()["can_apply"] and unreadable.json()["error_count"] == 1


def test_import_processes_end_when_the_server_is_killed(server: tuple[ServerProcess, Api]) -> None:
    """A server killed with SIGKILL cannot shut its pool down: its import processes end on their own."""
    process, api = server
    assert process.process is not None
    project = api.project()
    scene = api.scene(project["id"])
    preview = api.admin.post(
        f"/api/projects/{project['id']}/shotlist/import",
        files={"file": ("small.csv", _rows_csv(scene["code"], 10))},
    )
    assert preview.status_code == 200, preview.text
    (record,) = log_records(process.log(), PLANNED)
    assert not _ended(record["worker_pid"])
    process.stop(kill=True)
    deadline = time.monotonic() + 20
    while not _ended(record["worker_pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ended(record["worker_pid"]), record


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in "ZX"  # a zombie has ended: it only waits to be reaped
