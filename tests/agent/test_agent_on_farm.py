"""Real agent processes on a real server, driving the ComfyUI stand-in: failures that end, a cancel that
cleans up, progress as ComfyUI reports it, an agent whose ComfyUI is away, fail-over between servers."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.agent.farm_rig import Farm, agent_process, running_farm, wait_for
from tests.comfyui_standin.fixtures import running_standin
from tests.conftest import ADMIN
from tests.support.api import login
from tests.support.server import ServerProcess, free_port

# A short back-off so that retries on one agent take seconds; heartbeats at their usual 10 s, so that
# whatever arrives sooner (a cancel, progress) did not wait for a heartbeat.
FARM_ENV = {
    "AIPIPE_FARM_RETRY_BACKOFF_S": "0.5",
    "AIPIPE_FARM_SWEEP_S": "0.5",
    "AIPIPE_FARM_HEARTBEAT_S": "10",
}
AVCODEC = "[Errno 542398533] Generic error in an external library: 'avcodec_open2(\"libx264\", {})'"


def test_a_cancel_while_comfyui_finishes_its_node_still_deletes_the_prompt_and_its_files(
    tmp_path: Path,
) -> None:
    # SaveVideo runs 4 s and, as on ComfyUI 0.3.64, an interrupt does not stop it.
    with (
        running_farm(tmp_path / "server", FARM_ENV) as farm,
        running_standin(tmp_path / "comfy", slow_nodes={"SaveVideo": 4.0}) as comfy,
    ):
        job = farm.render_job()
        env = {"AIPIPE_AGENT_COMFYUI_OUTPUT_DIR": str(comfy.comfy.output_dir)}
        with agent_process(
            [farm.url], farm.agent_key, tmp_path / "work", name="cancel-1", comfyui=comfy.url, env=env
        ) as agent:
            wait_for(lambda: "SaveVideo" in farm.job(job["id"])["stage_text"], "the encode started")
            assert farm.admin.post(f"/api/farm/jobs/{job['id']}/cancel").status_code == 200
            # Pushed to the agent, released at once: not after the encode, nor at the next heartbeat (10 s).
            state = wait_for(
                lambda: (s := farm.job(job["id"]))["status"] == "cancelled" and s, "cancelled", timeout=2.5
            )
            assert state["outputs"] == [] and state["version_id"] is None
            assert comfy.comfy.requested("POST", "/interrupt") >= 1
            # The encode ends on its own; then the agent deletes the history entry and the mp4.
            wait_for(lambda: comfy.comfy.requested("POST", "/history") >= 1, "history deleted", timeout=15)
            assert comfy.comfy.history == {}
            assert not list(comfy.comfy.output_dir.rglob("*.mp4")), agent.log()


def test_a_node_error_on_a_one_agent_farm_fails_after_its_attempts_instead_of_waiting_forever(
    tmp_path: Path,
) -> None:
    env = {**FARM_ENV, "AIPIPE_FARM_BLOCKLIST_AFTER": "10"}
    with (
        running_farm(tmp_path / "server", env) as farm,
        running_standin(tmp_path / "comfy", fail_nodes={"SaveVideo": AVCODEC}) as comfy,
    ):
        job = farm.render_job()
        with agent_process(
            [farm.url], farm.agent_key, tmp_path / "work", name="solo", comfyui=comfy.url
        ) as agent:
            state = wait_for(
                lambda: (s := farm.job(job["id"]))["status"] in ("failed", "succeeded") and s, "job ended", 40
            )
    assert state["status"] == "failed", agent.log()
    assert state["attempts"] == 3 and state["max_attempts"] == 3
    assert [f["kind"] for f in state["failures"]] == ["node", "node", "node"]
    assert "avcodec_open2" in state["error"] and "SaveVideo" in state["error"]  # the reason, verbatim


def test_progress_and_stage_follow_comfyui_while_the_job_runs(tmp_path: Path) -> None:
    with (
        running_farm(tmp_path / "server", FARM_ENV) as farm,
        running_standin(tmp_path / "comfy", node_delay=0.6, progress_steps=3) as comfy,
    ):
        job = farm.render_job()
        with agent_process([farm.url], farm.agent_key, tmp_path / "work", name="progress", comfyui=comfy.url):
            seen = wait_for(
                lambda: (s := farm.job(job["id"]))["status"] == "running" and s["progress"] > 0.2 and s,
                "progress reported while running",
                timeout=20,
            )
            assert "(node " in seen["stage_text"], seen["stage_text"]  # e.g. "RepeatImageBatch (node 3) 2/3"
            assert seen["attempts"] == 1  # the first try counts
            done = wait_for(
                lambda: (s := farm.job(job["id"]))["status"] in ("succeeded", "failed") and s, "done"
            )
    assert done["status"] == "succeeded" and done["progress"] == 1.0


def test_an_agent_killed_mid_job_has_its_prompt_removed_from_comfyui_by_its_next_run(tmp_path: Path) -> None:
    """kill -9 while ComfyUI runs the job's prompt: the agent's next run (same name) interrupts that prompt
    before it claims, the job (requeued when the agent registers again) runs anew and succeeds, and ComfyUI
    is left with no prompt of the killed run."""
    with (
        running_farm(tmp_path / "server", FARM_ENV) as farm,
        running_standin(tmp_path / "comfy", node_delay=1.0, progress_steps=4) as comfy,
    ):
        job = farm.render_job()
        with agent_process(
            [farm.url], farm.agent_key, tmp_path / "work", name="killed", comfyui=comfy.url
        ) as first:
            wait_for(lambda: farm.job(job["id"])["progress"] > 0.1, "the first run is working", timeout=20)
            first.process.kill()
            first.process.wait(timeout=10)
        assert comfy.comfy.requested("POST", "/interrupt") == 0
        running = httpx.get(f"{comfy.url}/queue", timeout=10).json()["queue_running"]
        (orphan,) = [item[1] for item in running]  # the killed run's prompt runs on in ComfyUI
        with agent_process(
            [farm.url], farm.agent_key, tmp_path / "work", name="killed", comfyui=comfy.url
        ) as second:
            done = wait_for(
                lambda: (s := farm.job(job["id"]))["status"] in ("succeeded", "failed") and s,
                "done",
                timeout=60,
            )
            assert done["status"] == "succeeded", second.log()
            assert done["lease_losses"] == 1 and done["attempts"] == 2
            assert comfy.comfy.requested("POST", "/interrupt") == 1, second.log()
            assert "an earlier run of killed left in ComfyUI" in second.log()
            queue = httpx.get(f"{comfy.url}/queue", timeout=10).json()
        assert queue == {"queue_running": [], "queue_pending": []}
        orphan_end = comfy.comfy.history.get(orphan)  # interrupted, never a success
        assert orphan_end is None or orphan_end["status"]["status_str"] == "error", orphan_end


def test_an_agent_whose_comfyui_does_not_answer_shows_unavailable_with_the_reason(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with (
        running_farm(tmp_path / "server", FARM_ENV) as farm,
        agent_process([farm.url], farm.agent_key, tmp_path / "work", name="no-comfy", comfyui=dead),
    ):
        agent = wait_for(
            lambda: next(
                (a for a in farm.admin.get("/api/farm/agents").json() if a["state"] == "unavailable"),
                None,
            ),
            "the agent shown unavailable",
            timeout=20,
        )
        assert agent["name"] == "no-comfy" and dead in agent["state_reason"]
        assert farm.admin.get("/api/farm/status").json()["agents"] == {"unavailable": 1}


def test_an_agent_given_several_servers_uses_the_one_that_answers(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with (
        running_farm(tmp_path / "server", FARM_ENV) as farm,
        running_standin(tmp_path / "comfy") as comfy,
    ):
        job = farm.render_job()
        with agent_process(
            [dead, farm.url], farm.agent_key, tmp_path / "work", name="two-urls", comfyui=comfy.url
        ) as agent:
            state = wait_for(
                lambda: (s := farm.job(job["id"]))["status"] in ("succeeded", "failed") and s, "done"
            )
    assert state["status"] == "succeeded", agent.log()


def test_an_agent_fails_over_when_its_server_process_dies_mid_job(tmp_path: Path, fresh_pg_url: str) -> None:
    """Two server processes on one PostgreSQL database; the one the agent talks to is killed mid-job."""
    with (
        running_farm(tmp_path / "server", FARM_ENV, database_url=fresh_pg_url) as farm,
        running_standin(tmp_path / "comfy", node_delay=0.8, progress_steps=2) as comfy,
    ):
        other = ServerProcess(tmp_path / "server", fresh_pg_url, env=FARM_ENV).start()
        try:
            job = farm.render_job()
            servers = [farm.url, other.url]
            with agent_process(
                servers, farm.agent_key, tmp_path / "work", name="fail-over", comfyui=comfy.url
            ) as agent:
                wait_for(lambda: farm.job(job["id"])["status"] == "running", "the job started", timeout=30)
                farm.server.stop(kill=True)  # the agent's server dies; the job runs on
                watcher = Farm(other, login(other.url, ADMIN, farm.password), farm.agent_key, farm.password)
                state = wait_for(
                    lambda: (s := watcher.job(job["id"]))["status"] in ("succeeded", "failed") and s,
                    "the job finished through the other server",
                    timeout=60,
                )
                assert state["status"] == "succeeded", agent.log()
                assert state["lease_losses"] == 0 and state["attempts"] == 1  # the same try, not a rerun
                assert "switching to " + other.url in agent.log()
        finally:
            other.stop()
