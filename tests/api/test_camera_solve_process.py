"""A camera solve runs in a child process of the server (a solve process), not on the server process's GIL:
the server logs which process solved each picture, and that process is a live child of the server."""

from __future__ import annotations

from pathlib import Path

import cv2

from scripts.camera_set.synth import draw_boxes
from tests.support.api import login
from tests.support.processes import log_records, parent_of
from tests.support.server import start_with_admin

SOLVED = "camera solved in a solve process"


def test_a_solve_runs_in_a_child_process_of_the_server(tmp_path: Path) -> None:
    process, password = start_with_admin(tmp_path / "server", None, "admin", {"AIPIPE_LOG_LEVEL": "INFO"})
    admin = login(process.url, "admin", password)
    try:
        assert process.process is not None
        server_pid = process.process.pid
        project = admin.post("/api/projects", json={"code": "CAMP", "name": "camera"}).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
        image = draw_boxes(width=640, height=360, focal=35 / 36 * 2, pitch=4, roll=1, yaw=30, seed=2)
        version = admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "previz"},
            files={"files": ("f.png", cv2.imencode(".png", image)[1].tobytes(), "image/png")},
        ).json()
        for body in ({}, {"focal_mm": 50.0}):
            answer = admin.post(f"/api/versions/{version['id']}/camera-solve", json=body, timeout=120)
            assert answer.status_code == 200, answer.text
        records = log_records(process.log(), SOLVED)
        assert len(records) == 2, records
        for record in records:
            assert record["server_pid"] == server_pid and record["version_id"] == version["id"]
            assert record["worker_pid"] != server_pid, record  # solved on the server's own GIL
            assert parent_of(record["worker_pid"]) in (server_pid, None), record  # a process of its pool
            assert record["outcome"] == "ok" and record["cpu_s"] > 0
    finally:
        admin.close()
        process.stop()
