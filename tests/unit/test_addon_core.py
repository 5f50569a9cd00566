"""The add-on's bpy-free core: worker + apply queue, token store, multipart body, HTTP client, WebSocket."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from blender_addon.core.client import ApiClient, ApiError
from blender_addon.core.multipart import MultipartBody
from blender_addon.core.tokens import TokenStore
from blender_addon.core.worker import Worker


@pytest.fixture
def worker():
    w = Worker(threads=2)
    yield w
    w.stop()


def _drain_until(worker: Worker, predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        worker.drain()
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("timed out")


def test_callbacks_run_only_in_drain_on_the_calling_thread(worker) -> None:
    seen: list[tuple[int, str]] = []
    worker.submit(
        lambda ctx: threading.get_ident(), on_done=lambda r: seen.append((r, threading.current_thread().name))
    )
    time.sleep(0.2)
    assert seen == []  # nothing is applied behind the main thread's back
    _drain_until(worker, lambda: bool(seen))
    worker_thread, applied_on = seen[0]
    assert worker_thread != threading.get_ident() and applied_on == threading.current_thread().name


def test_submit_returns_at_once_while_the_work_is_slow(worker) -> None:
    # The work cannot end before the gate opens: submit returning at all proves it did not wait for it
    # (no wall-clock bound, which a busy machine would break).
    gate = threading.Event()
    task = worker.submit(lambda ctx: gate.wait(10), label="slow")
    assert not task.done and worker.busy == [task]
    gate.set()
    _drain_until(worker, lambda: task.done)


def test_errors_reach_on_error_and_progress_and_cancel_are_visible(worker) -> None:
    errors: list[BaseException] = []
    gate = threading.Event()

    def work(ctx):
        ctx.progress(0.5, "half")
        gate.wait(2)
        if ctx.cancelled:
            raise RuntimeError("stopped by the artist")
        return 1

    task = worker.submit(work, on_error=errors.append, label="cancellable")
    _drain_until(worker, lambda: task.progress == 0.5)
    assert task.text == "half"
    task.cancel()
    gate.set()
    _drain_until(worker, lambda: bool(errors))
    assert "stopped by the artist" in str(errors[0])


def test_post_queues_main_thread_work_from_any_thread(worker) -> None:
    ran: list[str] = []
    threading.Thread(target=lambda: worker.post(lambda: ran.append("x"))).start()
    _drain_until(worker, lambda: ran == ["x"])


def test_token_store_is_owner_only_and_per_server(tmp_path: Path) -> None:
    store = TokenStore(str(tmp_path / "cfg"))
    store.save("http://a:1/", "tok-a")
    store.save("http://b:2", "tok-b")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert (store.load("http://a:1"), store.load("http://b:2")) == ("tok-a", "tok-b")
    store.clear("http://a:1")
    assert store.load("http://a:1") is None and store.load("http://b:2") == "tok-b"


def test_multipart_length_matches_the_bytes_and_fields_come_first(tmp_path: Path) -> None:
    movie = tmp_path / "pb.mp4"
    movie.write_bytes(os.urandom(600_000))
    body = MultipartBody({"stage": "playblast", "comment": "héllo"}, [str(movie)])
    progress: list[tuple[int, int]] = []
    data = b"".join(body.chunks(lambda done, total: progress.append((done, total))))
    assert len(data) == body.length and progress[-1] == (body.length, body.length)
    assert data.index(b'name="stage"') < data.index(b'filename="pb.mp4"')
    assert movie.read_bytes() in data


def test_multipart_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.mp4"):
        MultipartBody({}, [str(tmp_path / "nothing.mp4")])


def test_client_refuses_a_url_without_scheme(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        ApiClient("pipeline.lan:8000", TokenStore(str(tmp_path)))


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    from tests.support.server import free_port

    client = ApiClient(f"http://127.0.0.1:{free_port()}", TokenStore(str(tmp_path)), timeout_s=2)
    with pytest.raises(ApiError, match="cannot reach the server"):
        client.login("a", "b")


def test_client_logs_in_resumes_and_refreshes_on_401(api, tmp_path: Path) -> None:
    import secrets

    password = secrets.token_urlsafe(12)
    name = f"addon_{secrets.token_hex(4)}"
    created = api.admin.post("/api/users", json={"username": name, "password": password, "role": "artist"})
    assert created.status_code == 201, created.text
    store = TokenStore(str(tmp_path))
    client = ApiClient(api.base_url, store)
    assert client.login(name, password)["username"] == name
    client._access = "expired-or-garbage"  # the next call meets a 401, refreshes once and retries
    assert "items" in client.get("/api/projects")
    again = ApiClient(api.base_url, store)  # a new Blender session: no password
    assert again.resume()["username"] == name
    with pytest.raises(ApiError) as refused:
        again.request(
            "PATCH",
            "/api/shots/00000000-0000-0000-0000-000000000000",
            {"description": "x"},
            headers={"If-Match": '"1"'},
        )
    assert refused.value.status == 404
    again.logout()
    assert store.load(api.base_url) is None


def test_parallel_401s_refresh_once_and_keep_the_session(api, tmp_path: Path) -> None:
    import secrets
    from concurrent.futures import ThreadPoolExecutor

    password = secrets.token_urlsafe(12)
    name = f"addon_{secrets.token_hex(4)}"
    api.admin.post("/api/users", json={"username": name, "password": password, "role": "artist"})
    client = ApiClient(api.base_url, TokenStore(str(tmp_path)))
    client.login(name, password)
    client._access = "expired"
    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda _i: client.get("/api/projects"), range(8)))
    assert all("items" in page for page in pages)
    assert "items" in client.get("/api/projects")  # still signed in: no refresh token was reused


def test_workflow_list_for_the_render_picker(api) -> None:
    artist = api.user("artist")
    workflows = artist.get("/api/farm/workflows")
    assert workflows.status_code == 200, workflows.text
    by_name = {w["name"]: w for w in workflows.json()}
    assert "wan21_i2v_480p" in by_name and "image" in by_name["wan21_i2v_480p"]["roles"]
    assert by_name["wan21_i2v_480p"]["job_type"] == "i2v"
    assert api.client(None).get("/api/farm/workflows").status_code == 401
