"""Versions: streamed uploads numbered atomically, media facts, Range downloads, crash safety, review."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.sync.client import ClientConnection, connect

from sync_server.versions.staging import PENDING_MARKER, STAGING_DIR
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, assert_problem, login
from tests.support.media import CONTENT_TYPE, h264_mp4, multipart_body, png_bytes
from tests.support.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
SMALL_LIMIT = 1024 * 1024  # AIPIPE_MAX_UPLOAD_BYTES of the server this file starts itself
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


# -- helpers ------------------------------------------------------------------------------------------


def _new_shot(api: Api, **overrides: Any) -> dict[str, Any]:
    project = api.project()
    return api.shot(project["id"], api.scene(project["id"])["id"], **overrides)


def _publish(
    client: httpx.Client, shot_id: str, files: list[tuple[str, bytes]], **fields: str
) -> httpx.Response:
    if not files:  # httpx would send a form without files as urlencoded
        body = b"".join(multipart_body(fields, []))
        headers = {"Content-Type": CONTENT_TYPE}
        return client.post(f"/api/shots/{shot_id}/versions", content=body, headers=headers)
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post(f"/api/shots/{shot_id}/versions", data=fields, files=parts)


def _everything_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _versions(client: httpx.Client, shot_id: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/api/shots/{shot_id}/versions", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@contextlib.contextmanager
def _events(ws_url: str, client: httpx.Client, project_id: str) -> Iterator[ClientConnection]:
    token = client.headers["Authorization"].split(" ", 1)[1]
    with connect(f"{ws_url}/api/events?token={token}&project_id={project_id}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        yield ws


def _next_event(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == "event":
            return message


# -- publishing ---------------------------------------------------------------------------------------


def test_a_published_video_is_probed_hashed_thumbnailed_and_announced(api: Api, tmp_path: Path) -> None:
    shot = _new_shot(api, status="ready")
    video = h264_mp4(tmp_path / "clip.mp4", seconds=2, size="320x240", rate="24000/1001").read_bytes()
    provenance = {"workflow": "i2v_wan", "prompt": "비 내리는 골목", "seed": 42, "gpu_seconds": 12.5}
    with _events(api.ws_url, api.admin, shot["project_id"]) as ws:
        response = _publish(
            api.admin,
            shot["id"],
            [("골목 샷 v1.mp4", video)],
            stage="previz",
            comment="리나가 뛰어간다",
            provenance=json.dumps(provenance),
        )
        created, moved = _next_event(ws), _next_event(ws)
    assert response.status_code == 201, response.text
    version = response.json()
    assert response.headers["Location"] == f"/api/versions/{version['id']}"
    assert (version["stage"], version["number"], version["code"]) == ("previz", 1, "v001")
    assert version["comment"] == "리나가 뛰어간다"
    assert version["provenance"] == provenance and version["gpu_seconds"] == 12.5
    assert version["path"].endswith("/previz/v001")
    [file] = version["files"]
    assert file["name"] == "골목 샷 v1.mp4"
    assert file["size"] == len(video) and file["sha256"] == hashlib.sha256(video).hexdigest()
    assert file["mime"] == "video/mp4"
    media = file["media"]
    assert (media["codec"], media["width"], media["height"]) == ("h264", 320, 240)
    assert media["fps"] == "24000/1001" and media["frames"] == 48
    assert media["duration"] == pytest.approx(2.002, abs=0.01)
    assert (api.data_dir / "storage" / file["path"]).read_bytes() == video

    thumbnail = api.admin.get(version["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumbnail.content))
    assert image.format == "JPEG" and max(image.size) <= 320

    assert created["action"] == "version.created" and created["entity"] == "version"
    assert created["entity_id"] == version["id"] and created["project_id"] == shot["project_id"]
    assert (
        created["data"]["shot_id"] == shot["id"] and created["data"]["files"][0]["sha256"] == file["sha256"]
    )
    # A previz for a shot that was waiting for work puts it in review.
    assert moved["action"] == "shot.updated" and moved["changes"]["status"] == ["ready", "review"]
    assert api.admin.get(f"/api/shots/{shot['id']}").json()["status"] == "review"
    assert api.admin.get(f"/api/versions/{version['id']}").json() == version


def test_downloads_honour_range_requests(api: Api, tmp_path: Path) -> None:
    shot = _new_shot(api)
    data = h264_mp4(tmp_path / "clip.mp4", seconds=1).read_bytes()
    version = _publish(api.admin, shot["id"], [("플레이블라스트.mp4", data)], stage="playblast").json()
    url, size = version["files"][0]["url"], len(data)

    whole = api.admin.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert "filename*=utf-8''" in whole.headers["content-disposition"]
    for header, expected, content_range in (
        ("bytes=0-99", data[:100], f"bytes 0-99/{size}"),
        ("bytes=-100", data[-100:], f"bytes {size - 100}-{size - 1}/{size}"),
        ("bytes=1000-", data[1000:], f"bytes 1000-{size - 1}/{size}"),
    ):
        part = api.admin.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == content_range
        assert part.content == expected
    # A client resuming a download with If-Range gets the rest only while the file is unchanged.
    resumed = api.admin.get(url, headers={"Range": "bytes=10-", "If-Range": whole.headers["etag"]})
    assert resumed.status_code == 206 and resumed.content == data[10:]
    assert api.admin.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416


def test_twenty_parallel_uploads_get_v001_to_v020_each_with_its_own_file(api: Api) -> None:
    shot = _new_shot(api)
    token = api.admin.headers["Authorization"]

    def upload(i: int) -> tuple[int, str, str]:
        data = png_bytes(color=(i * 12, 255 - i * 12, 7))
        with httpx.Client(base_url=api.base_url, headers={"Authorization": token}, timeout=120) as client:
            response = _publish(client, shot["id"], [(f"take_{i:02d}.png", data)], stage="layout")
        assert response.status_code == 201, response.text
        body = response.json()
        return body["number"], body["files"][0]["path"], hashlib.sha256(data).hexdigest()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(upload, range(20)))

    assert sorted(number for number, _, _ in results) == list(range(1, 21))
    storage = api.data_dir / "storage"
    for number, path, sha in results:
        folder = storage / path.rsplit("/", 1)[0]
        assert folder.name == f"v{number:03d}"
        assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == [path.rsplit("/", 1)[1]]
        assert hashlib.sha256((storage / path).read_bytes()).hexdigest() == sha
    listed = _versions(api.admin, shot["id"], stage="layout", limit="100")
    assert listed["total"] == 20
    assert [v["number"] for v in listed["items"]] == list(range(20, 0, -1))


def test_versions_list_newest_first_and_filter_by_stage(api: Api) -> None:
    shot = _new_shot(api)
    for stage in ("layout", "previz", "layout"):
        assert _publish(api.admin, shot["id"], [("a.png", png_bytes())], stage=stage).status_code == 201
    every = _versions(api.admin, shot["id"])
    assert [(v["stage"], v["number"]) for v in every["items"]] == [
        ("layout", 2),
        ("previz", 1),
        ("layout", 1),
    ]
    assert [v["number"] for v in _versions(api.admin, shot["id"], stage="layout")["items"]] == [2, 1]
    assert_problem(api.admin.get(f"/api/shots/{shot['id']}/versions?stage=storyboard"), 422, "stage")
    assert_problem(api.admin.get(f"/api/shots/{uuid.uuid4()}/versions"), 404, "id")


def test_rename_names_files_with_the_version_file_name_template(api: Api) -> None:
    shot = _new_shot(api)
    files = [("my render.png", png_bytes()), ("depth pass.png", png_bytes()), ("notes.json", b'{"a": 1}')]
    version = _publish(api.admin, shot["id"], files, stage="layout", rename="true").json()
    code = shot["code"]
    assert [f["name"] for f in version["files"]] == [
        f"{code}_layout_v001.png",
        f"{code}_layout_v001_depth_pass.png",
        f"{code}_layout_v001.json",
    ]
    kept = _publish(api.admin, shot["id"], [("my render.png", png_bytes())], stage="layout").json()
    assert kept["files"][0]["name"] == "my render.png"


def test_render_agents_may_publish_and_wranglers_may_not(api: Api) -> None:
    shot = _new_shot(api)
    agent, wrangler = api.user("agent"), api.user("wrangler")
    published = _publish(agent, shot["id"], [("out.png", png_bytes())], stage="render")
    assert published.status_code == 201, published.text
    assert published.json()["created_by"].startswith("agent_")
    assert_problem(_publish(wrangler, shot["id"], [("out.png", png_bytes())], stage="render"), 403)
    assert_problem(api.client(None).get(f"/api/versions/{published.json()['id']}"), 401)


REFUSALS = {
    "extension not allowed": (dict(stage="layout"), [("tool.exe", EXE)], "files.0", "tool.exe"),
    "Windows program named .png": (dict(stage="layout"), [("frame.png", EXE)], "files.0", "frame.png"),
    "text named .mp4": (dict(stage="render"), [("clip.mp4", b"hello " * 100)], "files.0", "clip.mp4"),
    "second file lies": (
        dict(stage="layout"),
        [("ok.png", png_bytes()), ("nope.jpg", png_bytes())],
        "files.1",
        "nope.jpg",
    ),
    "same name twice": (dict(stage="layout"), [("a.png", png_bytes())] * 2, "files.1", "a.png"),
    "unknown stage": (dict(stage="storyboard"), [("a.png", png_bytes())], "stage", None),
    "no stage": ({}, [("a.png", png_bytes())], "stage", None),
    "no files": (dict(stage="layout"), [], "files", None),
    "provenance not JSON": (
        dict(stage="layout", provenance="{seed: 1"),
        [("a.png", png_bytes())],
        "provenance",
        None,
    ),
    "provenance seed not a number": (
        dict(stage="layout", provenance='{"seed": "abc"}'),
        [("a.png", png_bytes())],
        "provenance.seed",
        None,
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_upload_names_the_file_or_field_and_leaves_nothing(api: Api, case: str) -> None:
    fields, files, field, file_name = REFUSALS[case]
    shot = _new_shot(api)
    storage = api.data_dir / "storage"
    before = _everything_under(storage)
    response = _publish(api.admin, shot["id"], files, **fields)
    problem = assert_problem(response, 422, field)
    if file_name is not None:
        assert file_name in problem["detail"] and problem["file"] == file_name
    assert _everything_under(storage) == before
    assert _versions(api.admin, shot["id"])["total"] == 0


def test_non_multipart_bodies_and_unknown_shots_are_refused(api: Api) -> None:
    shot = _new_shot(api)
    as_json = api.admin.post(f"/api/shots/{shot['id']}/versions", json={"stage": "layout"})
    assert_problem(as_json, 415, "Content-Type")
    missing = _publish(api.admin, str(uuid.uuid4()), [("a.png", png_bytes())], stage="layout")
    assert_problem(missing, 404, "id")


# -- review -------------------------------------------------------------------------------------------


def _review(client: httpx.Client, version_id: str, **body: Any) -> httpx.Response:
    return client.post(f"/api/versions/{version_id}/reviews", json=body)


def test_verdicts_move_the_shot_along_its_workflow_and_are_audited(api: Api) -> None:
    shot = _new_shot(api, status="ready")
    artist, director = api.user("artist"), api.user("director")
    v1 = _publish(artist, shot["id"], [("첫 프레임.png", png_bytes())], stage="previz").json()
    assert api.admin.get(f"/api/shots/{shot['id']}").json()["status"] == "review"

    note = _review(artist, v1["id"], text="손가락이 여섯 개", frame=12)
    assert note.status_code == 201, note.text
    assert note.json()["verdict"] is None and note.json()["shot_status"] == "review"
    assert_problem(_review(artist, v1["id"], verdict="approve"), 403, "verdict")
    assert_problem(_review(artist, v1["id"], text="  "), 422, "text")

    changes = _review(director, v1["id"], verdict="needs_changes", text="다시", frame=30).json()
    assert changes["shot_status"] == "generating" and changes["shot_moved"] == ["generating"]
    v2 = _publish(artist, shot["id"], [("둘째.png", png_bytes(color="blue"))], stage="previz").json()
    assert api.admin.get(f"/api/shots/{shot['id']}").json()["status"] == "review"

    older = _review(director, v1["id"], verdict="approve").json()  # not the latest previz: moves nothing
    assert older["shot_status"] == "review" and older["shot_moved"] == []
    approved = _review(director, v2["id"], verdict="approve", text="좋아요").json()
    assert approved["shot_status"] == "approved" and approved["shot_moved"] == ["approved"]
    assert api.admin.get(f"/api/versions/{v2['id']}").json()["verdict"] == "approve"

    first = api.admin.get(f"/api/shots/{shot['id']}/first-frame")
    assert first.status_code == 200
    assert first.json()["version"]["id"] == v2["id"] and first.json()["file"]["name"] == "둘째.png"
    assert api.admin.get(first.json()["file"]["url"]).content == png_bytes(color="blue")

    final = _publish(artist, shot["id"], [("final.mp4", _tiny_mp4())], stage="final").json()
    finished = _review(director, final["id"], verdict="approve").json()
    assert finished["shot_status"] == "final" and finished["shot_moved"] == ["final"]

    notes = api.admin.get(f"/api/versions/{v1['id']}/reviews").json()
    assert [(n["verdict"], n["frame"]) for n in notes["items"]] == [
        (None, 12),
        ("needs_changes", 30),
        ("approve", None),
    ]
    audit = api.admin.get(
        "/api/audit", params={"entity": "shot", "entity_id": shot["id"], "sort": "id", "limit": 50}
    ).json()
    statuses = [e["changes"]["status"] for e in audit["items"] if "status" in e["changes"]]
    assert statuses == [
        ["ready", "review"],
        ["review", "generating"],
        ["generating", "review"],
        ["review", "approved"],
        ["approved", "final"],
    ]


def test_approving_the_latest_previz_walks_a_draft_shot_through_allowed_steps(api: Api) -> None:
    shot = _new_shot(api)  # draft: publishing does not move it
    version = _publish(api.admin, shot["id"], [("a.png", png_bytes())], stage="previz").json()
    assert api.admin.get(f"/api/shots/{shot['id']}").json()["status"] == "draft"
    result = _review(api.admin, version["id"], verdict="approve").json()
    assert result["shot_moved"] == ["ready", "review", "approved"]


def test_the_first_frame_is_404_naming_the_shot_until_a_previz_is_approved(api: Api) -> None:
    shot = _new_shot(api)
    assert_problem(api.admin.get(f"/api/shots/{shot['id']}/first-frame"), 404, "shot_id")
    version = _publish(api.admin, shot["id"], [("a.png", png_bytes())], stage="previz").json()
    _review(api.admin, version["id"], verdict="reject")
    problem = assert_problem(api.admin.get(f"/api/shots/{shot['id']}/first-frame"), 404, "shot_id")
    assert shot["code"] in problem["detail"]


_MP4_CACHE: dict[str, bytes] = {}


def _tiny_mp4() -> bytes:
    if "mp4" not in _MP4_CACHE:
        with tempfile.TemporaryDirectory() as folder:
            _MP4_CACHE["mp4"] = h264_mp4(
                Path(folder) / "t.mp4", seconds=0.5, size="64x48", rate="24"
            ).read_bytes()
    return _MP4_CACHE["mp4"]


# -- limits and crashes: a server of our own with a small upload limit ------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    data_dir = tmp_path_factory.mktemp("small-limit")
    server, password = start_server_with_admin(
        data_dir, None, env={"AIPIPE_MAX_UPLOAD_BYTES": str(SMALL_LIMIT)}
    )
    try:
        yield server, password
    finally:
        server.stop()


def _small_shot(server: ServerProcess, password: str) -> tuple[httpx.Client, dict[str, Any]]:
    client = login(server.url, ADMIN, password)
    project = client.post("/api/projects", json={"code": f"P{uuid.uuid4().hex[:8]}", "name": "작은"}).json()
    scene = client.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    shot = client.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
    return client, shot


def test_a_file_over_the_size_limit_is_refused_with_413_naming_it(small: tuple[ServerProcess, str]) -> None:
    server, password = small
    client, shot = _small_shot(server, password)
    storage = server.data_dir / "storage"
    before = _everything_under(storage)
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (SMALL_LIMIT + 200_000)
    chunks = [big[i : i + 65536] for i in range(0, len(big), 65536)]
    streamed = client.post(
        f"/api/shots/{shot['id']}/versions",
        content=multipart_body({"stage": "layout"}, [("small.png", [png_bytes()]), ("huge.png", chunks)]),
        headers={"Content-Type": CONTENT_TYPE},
    )
    problem = assert_problem(streamed, 413, "files.1")
    assert problem["file"] == "huge.png" and "huge.png" in problem["detail"]
    # With a Content-Length the body limit answers before the body is read.
    assert_problem(_publish(client, shot["id"], [("huge.png", big)], stage="layout"), 413)
    assert _everything_under(storage) == before
    assert _versions(client, shot["id"])["total"] == 0


def test_a_server_killed_mid_upload_leaves_no_file_and_no_row_after_restart(
    small: tuple[ServerProcess, str],
) -> None:
    server, password = small
    client, shot = _small_shot(server, password)
    staging = server.data_dir / "storage" / STAGING_DIR
    chunks = [b"\x1a\x45\xdf\xa3" + b"\x00" * 32764] + [b"\x00" * 32768] * 28  # ~900 KiB, under the limit
    failure: list[BaseException] = []

    def slow_upload() -> None:
        try:
            with httpx.Client(base_url=server.url, headers=client.headers, timeout=60) as slow:
                slow.post(
                    f"/api/shots/{shot['id']}/versions",
                    content=multipart_body({"stage": "render"}, [("render.mkv", chunks)], pause_s=0.05),
                    headers={"Content-Type": CONTENT_TYPE},
                )
        except httpx.HTTPError as exc:
            failure.append(exc)

    sender = threading.Thread(target=slow_upload)
    sender.start()
    deadline = time.monotonic() + 30
    while not any(p.is_file() and p.stat().st_size > 0 for p in staging.glob("*/*/render.mkv")):
        assert time.monotonic() < deadline, "the upload never reached the staging folder"
        time.sleep(0.05)
    server.stop(kill=True)  # SIGKILL in the middle of the body
    sender.join(timeout=30)
    assert failure, "the upload should have failed with the server gone"
    assert list(staging.glob("*/*/render.mkv")), "the partial file is in staging until the restart"

    server.start()
    client = login(server.url, ADMIN, password)
    leftovers = [
        p.relative_to(server.data_dir / "storage").as_posix()
        for p in (server.data_dir / "storage").rglob("*")
        if p.is_file() and not (p.parent == staging and p.suffix == ".lock")
    ]
    assert leftovers == []
    assert [p for p in staging.iterdir() if p.is_dir() and any(p.iterdir())] == []
    assert _versions(client, shot["id"])["total"] == 0


CRASHING_PUBLISHER = """
import os, sys, uuid
from pathlib import Path
from sync_server.storage.atomic import atomic_write_json
from sync_server.versions.staging import PENDING_MARKER, StagingArea

storage, uncommitted, committed_path, committed_id = sys.argv[1:]
area = StagingArea.open(Path(storage), version_exists=lambda _id: True)
upload = area.new_upload()
(upload.folder / "half.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
area.place(upload, Path(uncommitted), uuid.uuid4())
committed = Path(storage) / committed_path
atomic_write_json(committed / PENDING_MARKER, {"owner": area.owner, "version_id": committed_id})
atomic_write_json(area.own_dir / "late.json", {"target": committed_path, "version_id": committed_id})
print(area.owner, flush=True)
os._exit(0)  # dies without cleaning up; the kernel releases its lock
"""


def test_start_up_removes_a_version_folder_that_was_never_committed(small: tuple[ServerProcess, str]) -> None:
    server, password = small
    client, shot = _small_shot(server, password)
    storage = server.data_dir / "storage"
    committed = _publish(client, shot["id"], [("kept.png", png_bytes())], stage="layout").json()
    folder = storage / committed["path"]

    # Another server process dies in the two worst places: after renaming its upload to v002 but before
    # committing the row, and after committing v001 but before removing the pending marker.
    uncommitted = folder.parent / "v002"
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_PUBLISHER,
            str(storage),
            str(uncommitted),
            committed["path"],
            committed["id"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert crashed.returncode == 0, crashed.stderr
    owner = crashed.stdout.strip()
    assert (uncommitted / "half.png").is_file() and (folder / PENDING_MARKER).is_file()

    server.stop()
    server.start()
    client = login(server.url, ADMIN, password)
    assert not uncommitted.exists()
    assert sorted(p.name for p in folder.iterdir()) == [".thumbnail.jpg", "kept.png"]
    assert not (storage / STAGING_DIR / owner).exists()
    assert not (folder / PENDING_MARKER).exists()
    assert [v["number"] for v in _versions(client, shot["id"])["items"]] == [1]
    again = _publish(client, shot["id"], [("next.png", png_bytes())], stage="layout")
    assert again.json()["number"] == 2 and (uncommitted / "next.png").is_file()


def test_a_playblast_puts_a_draft_shot_in_review_not_a_first_frame(api: Api, tmp_path: Path) -> None:
    # The server's workflow rule (shots/status.py), not the add-on, moves the shot: a layout artist's
    # playblast sends the shot for review from draft; a first frame of a draft shot leaves it in draft.
    playblasted, drafted = _new_shot(api), _new_shot(api)
    assert playblasted["status"] == drafted["status"] == "draft"
    movie = h264_mp4(tmp_path / "layout.mp4", seconds=0.5).read_bytes()
    clip = _publish(api.admin, playblasted["id"], [("layout.mp4", movie)], stage="playblast")
    assert clip.status_code == 201, clip.text
    assert api.admin.get(f"/api/shots/{playblasted['id']}").json()["status"] == "review"
    frame = _publish(api.admin, drafted["id"], [("frame.png", png_bytes(64, 36))], stage="previz")
    assert frame.status_code == 201, frame.text
    assert api.admin.get(f"/api/shots/{drafted['id']}").json()["status"] == "draft"
