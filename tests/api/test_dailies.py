"""Dailies for real: a day's versions (studio time zone, Asia/Seoul here) in edit order, made into a reel with
slates and a contact sheet by a real `aipipe agent` process; the scheduled run is queued once by two server
replicas on one database; the archive holds the dailies and a delivery and verify catches a changed byte."""

from __future__ import annotations

import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import httpx
import pytest
from sqlalchemy import create_engine, update

from sync_server.app import build_services
from sync_server.dailies import scheduler
from sync_server.dailies.service import day_window
from sync_server.db.migrate import upgrade
from sync_server.db.models import Project, Version
from sync_server.db.models_dailies import Dailies
from sync_server.settings import Settings
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.agent import run_agent_until_done
from tests.support.api import assert_problem, login
from tests.support.cli import aipipe, cli_env
from tests.support.media import h264_mp4, png_bytes
from tests.support.server import ServerProcess

SEOUL = ZoneInfo("Asia/Seoul")
SLATE_S, STILL_S, FPS = 1, 2, 24


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None: the server's own SQLite file; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        yield request.getfixturevalue("fresh_pg_url")


def _db_url(data_dir: Path, database: str | None) -> str:
    return database or f"sqlite:///{(data_dir / 'aipipe.db').resolve()}"


def _backdate(url: str, version_id: str, when: datetime) -> None:
    """Move a version's creation time (the API always stamps now)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(Version).where(Version.id == uuid.UUID(version_id)).values(created_at=when))
    finally:
        engine.dispose()


def _upload(
    client: httpx.Client, shot_id: str, stage: str, name: str, data: bytes, mime: str
) -> dict[str, Any]:
    made = client.post(
        f"/api/shots/{shot_id}/versions", data={"stage": stage}, files={"files": (name, data, mime)}
    )
    assert made.status_code == 201, made.text
    return made.json()


class _Sheet(HTMLParser):
    """The contact sheet's shots, versions and fields in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.shots: list[str] = []
        self.versions: list[str] = []
        self.fields: list[dict[str, str]] = []
        self.slates: list[str] = []
        self.images = 0
        self._field: str | None = None
        self._in_slate = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "section" and named.get("data-shot"):
            self.shots.append(str(named["data-shot"]))
        if tag == "figure" and named.get("data-version-id"):
            self.versions.append(str(named["data-version-id"]))
            self.fields.append({})
            self.slates.append("")
        if tag == "img" and str(named.get("src", "")).startswith("data:image/jpeg;base64,"):
            self.images += 1
        if tag == "dd":
            self._field = named.get("data-field")
        self._in_slate = tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        self._field = None if tag == "dd" else self._field
        self._in_slate = False if tag == "pre" else self._in_slate

    def handle_data(self, data: str) -> None:
        if self._field:
            self.fields[-1][self._field] = self.fields[-1].get(self._field, "") + data
        if self._in_slate:
            self.slates[-1] += data


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_dailies_hold_exactly_the_days_versions_and_an_agent_makes_the_reel_and_sheet(
    database: str | None, tmp_path: Path
) -> None:
    env = {
        "AIPIPE_TIMEZONE": "Asia/Seoul",
        "AIPIPE_DAILIES_SLATE_S": str(SLATE_S),
        "AIPIPE_DAILIES_STILL_S": str(STILL_S),
    }
    data_dir = tmp_path / "server"
    server, password = start_server_with_admin(data_dir, database, env)
    try:
        admin = login(server.url, ADMIN, password)
        url = _db_url(data_dir, database)
        project = admin.post("/api/projects", json={"code": "DLY", "name": "데일리", "fps": "24"}).json()
        pid = project["id"]
        scene = admin.post(f"/api/projects/{pid}/scenes", json={}).json()
        first = admin.post(f"/api/projects/{pid}/shots", json={"scene_id": scene["id"]}).json()
        second = admin.post(f"/api/projects/{pid}/shots", json={"scene_id": scene["id"]}).json()
        # The edit puts the second shot first: dailies follow the edit, not the order shots were made.
        order = [{"id": s["id"], "revision": s["revision"]} for s in (second, first)]
        assert admin.post(f"/api/projects/{pid}/shots/reorder", json={"shots": order}).status_code == 200
        made = admin.post(
            "/api/users", json={"username": "rina", "password": "rina-pass-1234", "role": "artist"}
        )
        assert made.status_code == 201, made.text
        rina = login(server.url, "rina", "rina-pass-1234")

        day = datetime.now(SEOUL).date() - timedelta(days=3)
        at = lambda d, h, m, s=0: datetime(d.year, d.month, d.day, h, m, s, tzinfo=SEOUL)  # noqa: E731
        one_s = h264_mp4(tmp_path / "one.mp4", seconds=1, size="320x180", rate="24").read_bytes()
        half_s = h264_mp4(tmp_path / "half.mp4", seconds=0.5, size="320x180", rate="24").read_bytes()
        before = _upload(admin, first["id"], "render", "a.mp4", one_s, "video/mp4")
        early = _upload(rina, first["id"], "previz", "p.png", png_bytes(320, 180), "image/png")
        late = _upload(admin, first["id"], "render", "b.mp4", half_s, "video/mp4")
        other = _upload(admin, second["id"], "render", "c.mp4", one_s, "video/mp4")
        after = _upload(admin, second["id"], "render", "d.mp4", half_s, "video/mp4")
        previous = day - timedelta(days=1)
        _backdate(url, before["id"], at(previous, 23, 59, 59))  # the day before, one second to midnight
        # 00:00:30 in Seoul is still the previous day in UTC: a server counting UTC days would drop it.
        _backdate(url, early["id"], at(day, 0, 0, 30))
        _backdate(url, late["id"], at(day, 23, 59, 59))
        _backdate(url, other["id"], at(day, 12, 0))
        _backdate(url, after["id"], at(day + timedelta(days=1), 0, 0))  # the day after, at midnight
        verdict = admin.post(f"/api/versions/{late['id']}/reviews", json={"verdict": "approve"})
        assert verdict.status_code == 201, verdict.text

        # A day without versions, and a day still to come, get a clear answer naming the date.
        empty = admin.post(
            f"/api/projects/{pid}/dailies", json={"date": (day - timedelta(days=9)).isoformat()}
        )
        assert "No versions" in assert_problem(empty, 409, "date")["detail"]
        future = admin.post(f"/api/projects/{pid}/dailies", json={"date": "2999-01-01"})
        assert_problem(future, 422, "date")

        asked = admin.post(f"/api/projects/{pid}/dailies", json={"date": day.isoformat()})
        assert asked.status_code == 201, asked.text
        dailies = asked.json()
        # Exactly the day's versions, grouped by shot in edit order, oldest first within a shot.
        expected = [other["id"], early["id"], late["id"]]
        assert [c["version_id"] for c in dailies["clips"]] == expected
        assert dailies["day"] == day.isoformat() and dailies["timezone"] == "Asia/Seoul"
        assert dailies["status"] == "queued" and dailies["trigger"] == "manual" and dailies["number"] == 1
        assert dailies["clips"][1]["slate"][2] == "ARTIST 작업자  rina"
        assert dailies["clips"][2]["slate"][3] == "VERDICT 판정  approve 승인"

        key = admin.post("/api/api-keys", json={"name": "dailies-agent", "role": "agent"}).json()["key"]
        state, output = run_agent_until_done(
            admin,
            server.url,
            key,
            tmp_path / "work",
            dailies["job_id"],
            ["--name", "dailies-cpu", "--job-types", "dailies"],
            env={"AIPIPE_AGENT_HEARTBEAT_S": "0.2"},
            timeout_s=120,
        )
        assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
        done = admin.get(f"/api/dailies/{dailies['id']}").json()
        for _ in range(50):  # the server files the outputs as soon as it hears the job is done
            if done["status"] != "queued" and done["status"] != "running":
                break
            time.sleep(0.2)
            done = admin.get(f"/api/dailies/{dailies['id']}").json()
        assert done["status"] == "succeeded", done
        files = {f["name"]: f for f in done["files"]}
        reel_name = "DLY_dailies_" + day.isoformat() + "_v001.mp4"
        sheet_name = reel_name.replace(".mp4", "_contact_sheet.html")
        assert set(files) == {reel_name, sheet_name}
        assert files[reel_name]["path"].startswith("DLY/export/dailies/" + day.isoformat() + "/v001/")
        assert (data_dir / "storage" / files[reel_name]["path"]).is_file()  # in the project's folder

        reel = tmp_path / "reel.mp4"
        reel.write_bytes(admin.get(files[reel_name]["url"]).content)
        slate, still = SLATE_S * FPS, STILL_S * FPS
        clip_frames = [
            24,
            still,
            12,
        ]  # the noon render (1 s), the previz image (held), the late render (0.5 s)
        assert [c["frames"] for c in done["clips"]] == clip_frames
        assert [c["slate_frames"] for c in done["clips"]] == [slate] * 3
        assert _frames(reel) == sum(clip_frames) + 3 * slate == done["frames"]
        with av.open(str(reel)) as container:
            assert container.streams.video[0].average_rate == FPS

        page = admin.get(files[sheet_name]["url"])
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        sheet = _Sheet()
        sheet.feed(page.text)
        assert sheet.shots == [second["code"], first["code"]] and sheet.versions == expected
        assert sheet.images == 3  # every thumbnail is inside the page (self-contained)
        assert [f["artist"] for f in sheet.fields] == [ADMIN, "rina", ADMIN]
        assert [f["verdict"] for f in sheet.fields] == ["— 없음", "— 없음", "Approved 승인"]
        assert [f["version"] for f in sheet.fields] == [
            f"{c['stage']} v{c['number']:03d}" for c in done["clips"]
        ]
        assert [f["frames"] for f in sheet.fields] == [str(n) for n in clip_frames]
        assert sheet.slates[1].splitlines() == done["clips"][1]["slate"]
        assert "Shot · 샷" in page.text and "Verdict · 판정" in page.text  # both languages

        listed = admin.get(f"/api/projects/{pid}/dailies", params={"date": day.isoformat()}).json()
        assert [d["id"] for d in listed] == [dailies["id"]]

        # The archive holds the dailies (and a delivery's master), and verify catches one changed byte.
        master = data_dir / "storage" / "DLY" / "delivery" / "v001" / "DLY_master_v001.mov"
        master.parent.mkdir(parents=True, exist_ok=True)
        master.write_bytes(b"\x00\x00\x00\x14ftypqt  " + bytes(range(256)) * 4)
        _archive_holds_and_verifies(server, admin, tmp_path, pid, files[reel_name]["path"], master, data_dir)
    finally:
        server.stop()


def _archive_holds_and_verifies(
    server: ServerProcess,
    admin: httpx.Client,
    tmp_path: Path,
    project_id: str,
    reel_path: str,
    master: Path,
    data_dir: Path,
) -> None:
    key = admin.post("/api/api-keys", json={"name": "archivist", "role": "admin"}).json()["key"]
    env = cli_env(tmp_path / "config", server.url, key)
    done = aipipe("project", "archive", "DLY", "--download", str(tmp_path), "--json", env=env)
    assert done.returncode == 0, done.stderr
    bundle = Path(json.loads(done.stdout)["downloaded_to"])
    master_member = master.relative_to(data_dir / "storage").as_posix()
    with zipfile.ZipFile(bundle) as zf:
        manifest = zf.read("MANIFEST.sha256").decode("utf-8")
        listed = {line.split("  ", 1)[1] for line in manifest.splitlines()}
        assert reel_path in listed and master_member in listed
        assert zf.read(master_member) == master.read_bytes()
        records = json.loads(zf.read("project.json"))
        members = {name: zf.read(name) for name in zf.namelist()}
    assert [d["path"] for d in records["dailies"]] == [reel_path.rsplit("/", 1)[0]]
    assert "deliveries" in records
    checked = aipipe("project", "verify", str(bundle), env=cli_env(tmp_path / "config"))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    changed = bytearray(members[reel_path])
    changed[len(changed) // 2] ^= 0x01
    members[reel_path] = bytes(changed)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(damaged, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    refused = aipipe("project", "verify", str(damaged), env=cli_env(tmp_path / "config"))
    assert refused.returncode != 0 and reel_path in refused.stdout + refused.stderr


def test_the_scheduled_dailies_are_queued_once_by_two_replicas(database: str | None, tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    server, password = start_server_with_admin(data_dir, database, {"AIPIPE_TIMEZONE": "Asia/Seoul"})
    try:
        admin = login(server.url, ADMIN, password)
        project = admin.post("/api/projects", json={"code": "SCH", "name": "예약"}).json()
        quiet = admin.post("/api/projects", json={"code": "QUIET", "name": "조용"}).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
        _upload(admin, shot["id"], "previz", "p.png", png_bytes(), "image/png")
        admin.close()
    finally:
        server.stop()
    # Two replicas of the server on one database, whose clock says the dailies time has passed.
    replica_env = {
        "AIPIPE_TIMEZONE": "Asia/Seoul",
        "AIPIPE_DAILIES_AT": "00:00",
        "AIPIPE_DAILIES_CHECK_S": "0.1",
        "AIPIPE_DAILIES_PROJECTS": '["SCH", "QUIET"]',
    }
    replicas = [ServerProcess(data_dir, database, env=replica_env) for _ in range(2)]
    for replica in replicas:
        replica.start()
    try:
        admin = login(replicas[1].url, ADMIN, password)
        today = datetime.now(SEOUL).date()
        listed: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(listed) < 1:
            listed = admin.get(f"/api/projects/{project['id']}/dailies").json()
            time.sleep(0.2)
        time.sleep(2.0)  # twenty more passes of each clock: nothing more may be queued
        listed = admin.get(f"/api/projects/{project['id']}/dailies").json()
        assert [(d["day"], d["trigger"], d["versions"]) for d in listed] == [
            (today.isoformat(), "scheduled", 1)
        ]
        jobs = admin.get("/api/farm/jobs", params={"type": "dailies"}).json()["items"]
        assert [j["id"] for j in jobs] == [listed[0]["job_id"]]
        # A project with nothing made today gets an `empty` record (once), and no job.
        nothing = admin.get(f"/api/projects/{quiet['id']}/dailies").json()
        assert [(d["status"], d["job_id"]) for d in nothing] == [("empty", None)]
        admin.close()
    finally:
        for replica in replicas:
            replica.stop()


def test_day_window_follows_the_studio_time_zone() -> None:
    start, end = day_window(date(2026, 12, 5), "Asia/Seoul")
    assert (start, end) == (datetime(2026, 12, 4, 15, tzinfo=UTC), datetime(2026, 12, 5, 15, tzinfo=UTC))
    start, end = day_window(date(2026, 3, 8), "America/New_York")  # 23 hours: clocks go forward
    assert end - start == timedelta(hours=23)


def test_two_clocks_that_both_see_the_day_due_queue_it_once(
    database: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race itself: both schedulers read "not queued yet" before either writes; the unique key lets one
    insert and the other skip, whichever database."""

    settings = Settings(data_dir=tmp_path / "data", database_url=database, dailies_at="00:00")
    upgrade(settings.resolved_database_url)
    clocks = [build_services(settings), build_services(settings)]
    try:
        with clocks[0].db.write_sessions() as session:
            project = Project(code="RACE", name="경주")
            session.add(project)
            session.commit()
            project_id = project.id
        monkeypatch.setattr(scheduler, "_projects", lambda services, day: [project_id])
        barrier = threading.Barrier(2)
        made: list[list[uuid.UUID]] = []

        def run(services: Any) -> None:
            barrier.wait()
            made.append(scheduler.tick(services))

        threads = [threading.Thread(target=run, args=(services,)) for services in clocks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(len(ids) for ids in made) == [0, 1]
        with clocks[0].db.read_sessions() as session:
            rows = session.query(Dailies).filter_by(project_id=project_id).all()
            assert [(r.trigger, r.status, r.number) for r in rows] == [("scheduled", "empty", 1)]
    finally:
        for services in clocks:
            services.db.dispose()
