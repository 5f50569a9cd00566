"""`aipipe project verify`: a project archive's MANIFEST.sha256 lists every file it holds, and verify names
each file that was changed, removed or added afterwards."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.cli import aipipe, api_key, cli_env


@pytest.fixture
def archive(api: Api, tmp_path: Path) -> Path:
    project = api.project(name="검증")
    confirmed = api.admin.post(f"/api/projects/{project['id']}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.text
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "admin"))
    done = aipipe("project", "archive", project["code"], "--download", str(tmp_path), "--json", env=env)
    assert done.returncode == 0, done.stderr
    return Path(json.loads(done.stdout)["downloaded_to"])


def _rewrite(source: Path, dest: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(source) as bundle:
        members = {name: bundle.read(name) for name in bundle.namelist()}
    change(members)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return dest


def _config_member(bundle: Path) -> str:
    with zipfile.ZipFile(bundle) as zf:
        return next(name for name in zf.namelist() if name.endswith("project_config.json"))


def _verify(bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return aipipe("project", "verify", str(bundle), *extra, env=cli_env(bundle.parent / "config"))


def test_a_fresh_archive_lists_every_file_and_verifies(archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        names = {n for n in bundle.namelist() if not n.endswith("/")}
        manifest = bundle.read("MANIFEST.sha256").decode("utf-8")
        listed = dict(reversed(line.split("  ", 1)) for line in manifest.splitlines())
        assert set(listed) == names - {"MANIFEST.sha256"} and "project.json" in listed
        for name, sha in listed.items():
            assert hashlib.sha256(bundle.read(name)).hexdigest() == sha, name
        records = json.loads(bundle.read("project.json"))
        assert records["camera_solutions"] == records["character_references"] == []  # exported tables
    checked = _verify(archive)
    assert checked.returncode == 0, checked.stderr
    assert f"all {len(listed)} files match" in checked.stdout
    as_json = json.loads(_verify(archive, "--json").stdout)
    assert as_json["ok"] is True and as_json["missing"] == as_json["changed"] == as_json["extra"] == []
    if shutil.which("sha256sum"):  # the manifest is sha256sum's format: an unpacked archive checks too
        unpacked = tmp_path / "unpacked"
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(unpacked)
        plain = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=unpacked, capture_output=True)
        assert plain.returncode == 0, plain.stdout


def test_verify_names_a_changed_file(archive: Path, tmp_path: Path) -> None:
    member = _config_member(archive)

    def flip(members: dict[str, bytes]) -> None:
        data = bytearray(members[member])
        data[len(data) // 2] ^= 0x01
        members[member] = bytes(data)

    checked = _verify(_rewrite(archive, tmp_path / "changed.zip", flip))
    assert checked.returncode == 1
    assert f"Changed: {member}" in checked.stderr and "does not match" in checked.stderr


def test_verify_names_a_removed_and_an_added_file(archive: Path, tmp_path: Path) -> None:
    member = _config_member(archive)
    removed = _verify(_rewrite(archive, tmp_path / "removed.zip", lambda m: m.pop(member)))
    assert removed.returncode == 1 and f"Missing: {member}" in removed.stderr

    added_name = member.rsplit("/", 1)[0] + "/extra.txt"
    added = _verify(
        _rewrite(archive, tmp_path / "added.zip", lambda m: m.__setitem__(added_name, b"slipped in"))
    )
    assert added.returncode == 1 and f"Extra: {added_name}" in added.stderr
    assert "Changed" not in added.stderr and "Missing" not in added.stderr


def test_damaged_bytes_in_the_zip_are_a_changed_file_and_a_non_archive_is_refused(
    archive: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("project.json")
    data = bytearray(archive.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    checked = _verify(damaged)
    assert checked.returncode == 1 and "Changed: project.json" in checked.stderr

    plain = _rewrite(archive, tmp_path / "old.zip", lambda m: m.pop("MANIFEST.sha256"))
    refused = _verify(plain)
    assert refused.returncode == 1 and "has no MANIFEST.sha256" in refused.stderr
    missing = _verify(tmp_path / "nothing.zip")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_delivery_masters_and_dailies_are_archived_and_a_changed_byte_is_caught(
    api: Api, tmp_path: Path
) -> None:
    project = api.project(name="납품")
    assert api.data_dir is not None
    folder = api.data_dir / "storage" / project["code"]
    master = folder / "delivery" / "v001" / f"{project['code']}_master_v001.mov"
    reel = (
        folder
        / "export"
        / "dailies"
        / "2026-12-05"
        / "v001"
        / f"{project['code']}_dailies_2026-12-05_v001.mp4"
    )
    for path, data in ((master, b"\x00\x00\x00\x14ftypqt  master"), (reel, b"\x00\x00\x00\x18ftypisom reel")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data * 100)
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "admin"))
    done = aipipe("project", "archive", project["code"], "--download", str(tmp_path), "--json", env=env)
    assert done.returncode == 0, done.stderr
    bundle = Path(json.loads(done.stdout)["downloaded_to"])
    root = api.data_dir / "storage"
    members = {p.relative_to(root).as_posix(): p for p in (master, reel)}
    with zipfile.ZipFile(bundle) as zf:
        listed = dict(
            reversed(line.split("  ", 1)) for line in zf.read("MANIFEST.sha256").decode().splitlines()
        )
        for member, path in members.items():
            assert listed[member] == hashlib.sha256(path.read_bytes()).hexdigest()
        records = json.loads(zf.read("project.json"))
    assert records["deliveries"] == [] and records["dailies"] == []  # the tables are exported (none here)
    assert _verify(bundle).returncode == 0

    for member in members:

        def flip(contents: dict[str, bytes], member: str = member) -> None:
            data = bytearray(contents[member])
            data[len(data) // 2] ^= 0x01
            contents[member] = bytes(data)

        checked = _verify(_rewrite(bundle, tmp_path / "changed.zip", flip))
        assert checked.returncode == 1 and f"Changed: {member}" in checked.stderr
