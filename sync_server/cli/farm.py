"""`aipipe farm`: the wrangler's view of the render farm and its controls, over the server's HTTP API.

Agents are named by name or id (or a unique id prefix), jobs by id or a unique id prefix. Every refusal
of the server is shown with its problem+json `detail` and ends the command with exit status 1.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, get_args

import typer
from rich.table import Table

from ..farm.schemas import JobType
from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, out, print_json, table

farm_app = typer.Typer(help="Render farm: status, jobs and the wrangler's controls.", no_args_is_help=True)
blocklist_app = typer.Typer(help="Agents blocklisted for a job type.", no_args_is_help=True)
farm_app.add_typer(blocklist_app, name="blocklist")

HTTP_TIMEOUT_S = 30.0
MIN_PREFIX = 4  # shorter job or agent id prefixes would match too much to be useful
SHORT_ID = 8  # characters of an id shown in tables; enough to name it again
JOB_TYPES = frozenset(get_args(JobType))
STATE_ORDER = {"busy": 0, "idle": 1, "draining": 2, "offline": 3}
STATUS_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "dim",
}


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


AgentRef = Annotated[str, typer.Argument(help="Agent name or id.")]
JobRef = Annotated[str, typer.Argument(help="Job id or a unique id prefix.")]


class FarmClient(ServerClient):
    """The wrangler routes of /api/farm."""

    def agents(self) -> list[dict[str, Any]]:
        return self.call("GET", "/api/farm/agents")

    def agent(self, ref: str) -> dict[str, Any]:
        """The agent named `ref`, or with id (or unique id prefix) `ref`."""
        agents = self.agents()
        by_name = [a for a in agents if a["name"] == ref]
        if by_name:
            return by_name[0]
        wanted = ref.lower()
        exact = [a for a in agents if a["id"] == wanted]
        if exact:
            return exact[0]
        prefixed = [a for a in agents if len(wanted) >= MIN_PREFIX and a["id"].startswith(wanted)]
        if len(prefixed) == 1:
            return prefixed[0]
        if prefixed:
            names = ", ".join(a["name"] for a in prefixed)
            raise CliError(f"'{ref}' is the start of the ids of {len(prefixed)} agents: {names}.")
        raise CliError(f"No agent named '{ref}' or with that id.")

    def job(self, ref: str) -> dict[str, Any]:
        """The job with id `ref`, or the one job whose id starts with `ref`."""
        try:
            job_id = uuid.UUID(ref)
        except ValueError:
            return self._job_by_prefix(ref)
        return self.call("GET", f"/api/farm/jobs/{job_id}")

    def _job_by_prefix(self, ref: str) -> dict[str, Any]:
        prefix = ref.lower()
        if not re.fullmatch(r"[0-9a-f-]+", prefix):
            raise CliError(f"'{ref}' is not a job id or id prefix (hexadecimal digits).", exit_code=2)
        if len(prefix.replace("-", "")) < MIN_PREFIX:
            raise CliError(f"Job id prefix '{ref}' is too short; give at least {MIN_PREFIX} characters.")
        page = self.call(
            "GET", "/api/farm/jobs", params={"id_prefix": prefix, "limit": 6, "sort": "created_at"}
        )
        matches: list[dict[str, Any]] = page["items"]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(j["id"] for j in matches[:5])
            raise CliError(f"Job id prefix '{ref}' matches {page['total']} jobs: {ids}.")
        raise CliError(f"No job with id '{ref}' (or starting with it).")


@contextmanager
def farm_client(server: str | None, api_key: str | None) -> Iterator[FarmClient]:
    """A client for the command's server; any CliError inside becomes a message and an exit status."""
    with connect(
        FarmClient, server, api_key, timeout_s=HTTP_TIMEOUT_S, key_hint=" (a key of role wrangler)"
    ) as c:
        yield c


# -- formatting --------------------------------------------------------------------------------------------


def short(value: str | None) -> str:
    return value[:SHORT_ID] if value else "—"


def ago(stamp: str | None) -> str:
    if not stamp:
        return "never"
    when = datetime.fromisoformat(stamp)
    if when.tzinfo is None:  # the server keeps UTC
        when = when.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - when).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{max(seconds, 0):.0f}s ago"


def gpus_text(agent: dict[str, Any]) -> str:
    if not agent["gpus"]:
        return f"none ({agent['gpu_error']})" if agent.get("gpu_error") else "none"
    return ", ".join(f"{g.get('name', '?')} {g.get('vram_total_mb', 0) / 1024:.0f} GB" for g in agent["gpus"])


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/{style}]" if style else status


def agent_state(agent: dict[str, Any]) -> str:
    state = agent["state"]
    if agent["draining"] and state not in ("draining", "offline"):
        state = f"{state} (draining)"
    reason = agent.get("state_reason")
    return f"{state}: {reason}" if reason else state


def job_line(job: dict[str, Any]) -> str:
    return f"{short(job['id'])} ({job['type']}, {job['status']}, priority {job['priority']})"


# -- commands ----------------------------------------------------------------------------------------------


@farm_app.command("status")
def status(as_json: AsJson = False, server: ServerUrl = None, api_key: ApiKey = None) -> None:
    """Agents by state with their GPUs and current job; queue depth, running, last hour's throughput."""
    with farm_client(server, api_key) as farm:
        summary = farm.call("GET", "/api/farm/status")
        agents = farm.agents()
        running = farm.call("GET", "/api/farm/jobs", params={"status": "running", "limit": 5000})["items"]
    if as_json:
        print_json({"farm": summary, "agents": agents})
        return
    jobs = {j["id"]: j for j in running}
    agents_table = table(
        "agent",
        "state",
        "GPUs",
        "current job",
        "last seen",
        "tags",
        "blocked for",
        title=f"Agents ({len(agents)})",
    )
    for agent in sorted(agents, key=lambda a: (STATE_ORDER.get(a["state"], 9), a["name"])):
        current = jobs.get(agent["current_job_id"] or "")
        doing = (
            f"{short(current['id'])} {current['type']} {current['progress']:.0%}"
            if current
            else short(agent["current_job_id"])
            if agent["current_job_id"]
            else "—"
        )
        agents_table.add_row(
            agent["name"],
            agent_state(agent),
            gpus_text(agent),
            doing,
            ago(agent["last_seen_at"]),
            ", ".join(agent["tags"]) or "—",
            ", ".join(agent["blocked_types"]) or "—",
        )
    out().print(agents_table)
    ok, bad = summary["succeeded_last_hour"], summary["failed_last_hour"]
    states = ", ".join(f"{n} {s}" for s, n in sorted(summary["agents"].items())) or "none"
    farm_table = Table(title="Farm", show_header=False)
    farm_table.add_row("agents", states)
    farm_table.add_row("GPUs online", str(summary["gpus"]))
    farm_table.add_row("queue depth", str(summary["queue_depth"]))
    farm_table.add_row("running", str(summary["running"]))
    farm_table.add_row("last hour", f"{ok + bad} jobs finished ({ok} succeeded, {bad} failed)")
    farm_table.add_row("error rate", f"{summary['error_rate_last_hour']:.1%}")
    out().print(farm_table)


@farm_app.command("jobs")
def list_jobs(
    status_: Annotated[
        list[JobStatus] | None, typer.Option("--status", help="Only jobs in this state (repeatable).")
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project code or id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=5000, help="At most this many jobs.")] = 50,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Jobs in queue order (highest priority first), optionally only some states or one project."""
    params: dict[str, Any] = {"limit": limit}
    if status_:
        params["status"] = [s.value for s in status_]
    with farm_client(server, api_key) as farm:
        if project:
            params["project_id"] = farm.project_id(project)
        page = farm.call("GET", "/api/farm/jobs", params=params)
    if as_json:
        print_json(page)
        return
    items = page["items"]
    listing = Table(title=f"Jobs ({len(items)} of {page['total']})", header_style="bold")
    for column in ("id", "type", "status", "priority", "project", "agent", "progress", "tries", "age"):
        listing.add_column(column, no_wrap=True, justify="right" if column == "priority" else "left")
    listing.add_column("error / stage (all of it: farm job ID)", overflow="fold")
    for job in items:
        listing.add_row(
            short(job["id"]),
            job["type"],
            status_text(job["status"]) + (" (cancel asked)" if job["cancel_requested"] else ""),
            str(job["priority"]),
            job["project_code"] or "—",
            job["agent_name"] or short(job["agent_id"]),
            f"{job['progress']:.0%}" if job["status"] == "running" else "",
            f"{job['attempts']}/{job['max_attempts']}",
            ago(job["created_at"]),
            (job["error"] or job["stage_text"])[:120],
        )
    out().print(listing)


@farm_app.command("job")
def show_job(job: JobRef, as_json: AsJson = False, server: ServerUrl = None, api_key: ApiKey = None) -> None:
    """One job in full: state, error text, stage, attempts and the failures of each, agents, outputs."""
    with farm_client(server, api_key) as farm:
        found = farm.job(job)
        if as_json:
            print_json(found)
            return
        names = {a["id"]: a["name"] for a in farm.agents()}  # jobs record agents by id
    console = out()
    facts = Table(title=f"Job {found['id']}", show_header=False)
    facts.add_column(no_wrap=True, style="bold")
    facts.add_column(overflow="fold")
    for label, value in job_facts(found, names):
        facts.add_row(label, value)
    console.print(facts)
    if found.get("failures"):
        failures = table("at", "agent", "kind", "error", title="Failures")
        for failure in found["failures"]:
            failures.add_row(
                str(failure.get("at", "")), _agent_name(failure.get("agent"), names),
                str(failure.get("kind", "")),
                str(failure.get("error", "")),
            )  # fmt: skip
        console.print(failures)
    if found["outputs"]:
        outputs = table("output", "size", "sha256", title="Outputs")
        for entry in found["outputs"]:
            outputs.add_row(
                str(entry.get("name", "")), str(entry.get("size", "")), str(entry.get("sha256", ""))
            )
        console.print(outputs)
    if found["error"]:
        console.print("Error:", style="bold red")
        console.print(found["error"], markup=False, highlight=False)


def _agent_name(agent_id: Any, names: dict[str, str]) -> str:
    return names.get(str(agent_id), str(agent_id or ""))


def job_facts(job: dict[str, Any], names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """What `farm job` lists about a job, label and text, nothing cut; `names` maps agent ids to names."""
    names = names or {}
    cancel = " (cancel asked)" if job["cancel_requested"] else ""
    progress = f"{job['progress']:.0%}" + (f", {job['stage_text']}" if job["stage_text"] else "")
    return [
        ("type", job["type"] + (f" ({job['workflow']})" if job.get("workflow") else "")),
        ("status", status_text(job["status"]) + cancel),
        ("priority", str(job["priority"])),
        ("project", job.get("project_code") or "—"),
        ("shot / stage", f"{job.get('shot_id') or '—'} / {job.get('output_stage') or '—'}"),
        ("progress", progress),
        ("attempts", f"{job['attempts']} of {job['max_attempts']}, leases lost {job.get('lease_losses', 0)}"),
        ("agent", job.get("agent_name") or job.get("agent_id") or "—"),
        ("failed on", ", ".join(_agent_name(a, names) for a in job["failed_agents"]) or "—"),
        ("depends on", ", ".join(job.get("depends_on") or []) or "—"),
        ("tags / min VRAM", f"{', '.join(job['tags']) or '—'} / {job['min_vram_gb']:g} GB"),
        ("created", f"{job['created_at']} by {job['created_by']}"),
        ("started / finished", f"{job['started_at'] or '—'} / {job['finished_at'] or '—'}"),
        ("version", job.get("version_id") or "—"),
        ("params", json.dumps(job["params"], ensure_ascii=False, sort_keys=True)),
    ]


@farm_app.command("retry")
def retry(job: JobRef, server: ServerUrl = None, api_key: ApiKey = None) -> None:
    """Queue a failed or cancelled job again with a clean slate."""
    with farm_client(server, api_key) as farm:
        found = farm.job(job)
        done = farm.call("POST", f"/api/farm/jobs/{found['id']}/retry")
    out().print(f"Job {job_line(done)} is queued again.")


@farm_app.command("cancel")
def cancel(job: JobRef, server: ServerUrl = None, api_key: ApiKey = None) -> None:
    """Cancel a job: a queued one at once, a running one at its agent's next heartbeat."""
    with farm_client(server, api_key) as farm:
        found = farm.job(job)
        done = farm.call("POST", f"/api/farm/jobs/{found['id']}/cancel")
    if done["status"] == "cancelled":
        out().print(f"Job {job_line(done)} is cancelled.")
    else:
        out().print(f"Job {job_line(done)}: cancel asked; its agent stops at its next heartbeat.")


@farm_app.command("priority")
def priority(
    job: JobRef,
    value: Annotated[int, typer.Argument(min=0, max=100, help="0–100; higher runs first.")],
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Set a job's priority."""
    with farm_client(server, api_key) as farm:
        found = farm.job(job)
        done = farm.call("POST", f"/api/farm/jobs/{found['id']}/priority", json={"priority": value})
    out().print(f"Job {job_line(done)}: priority {found['priority']} → {done['priority']}.")


@farm_app.command("drain")
def drain(agent: AgentRef, server: ServerUrl = None, api_key: ApiKey = None) -> None:
    """Let an agent finish its current job, then give it no more."""
    with farm_client(server, api_key) as farm:
        found = farm.agent(agent)
        farm.call("POST", f"/api/farm/agents/{found['id']}/drain")
    current = f" after job {short(found['current_job_id'])}" if found["current_job_id"] else ""
    out().print(f"Agent [bold]{found['name']}[/bold] is draining: no new work{current}.")


@farm_app.command("undrain")
def undrain(agent: AgentRef, server: ServerUrl = None, api_key: ApiKey = None) -> None:
    """Give a drained agent work again."""
    with farm_client(server, api_key) as farm:
        found = farm.agent(agent)
        farm.call("POST", f"/api/farm/agents/{found['id']}/undrain")
    out().print(f"Agent [bold]{found['name']}[/bold] takes work again.")


@blocklist_app.command("show")
def blocklist_show(
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent (name or id).")] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Agents blocklisted for a job type after failing it repeatedly."""
    with farm_client(server, api_key) as farm:
        params = {"agent_id": farm.agent(agent)["id"]} if agent else {}
        blocks = farm.call("GET", "/api/farm/blocklist", params=params)
    if as_json:
        print_json(blocks)
        return
    if not blocks:
        out().print(
            f"{agent or 'No agent'} is blocklisted for nothing." if agent else "No agent is blocklisted."
        )
        return
    listing = table("agent", "agent id", "job type", "failures", title="Blocklist")
    for block in blocks:
        listing.add_row(
            block["agent_name"], short(block["agent_id"]), block["job_type"], str(block["failures"])
        )
    out().print(listing)


@blocklist_app.command("clear")
def blocklist_clear(
    agent: AgentRef,
    job_type: Annotated[
        str | None, typer.Option("--type", help="Only this job type (default: every type).")
    ] = None,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Let an agent run job types it was blocklisted for (and forget its failure counts)."""
    if job_type is not None and job_type not in JOB_TYPES:
        raise typer.BadParameter(f"one of {', '.join(sorted(JOB_TYPES))}", param_hint="--type")
    with farm_client(server, api_key) as farm:
        found = farm.agent(agent)
        params = {"job_type": job_type} if job_type else {}
        cleared = farm.call("DELETE", f"/api/farm/blocklist/{found['id']}", params=params)["cleared"]
    scope = f"{job_type} " if job_type else ""
    out().print(
        f"Cleared {cleared} {scope}blocklist entr{'y' if cleared == 1 else 'ies'} of {found['name']}."
    )
