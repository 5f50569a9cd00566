"""Farm simulation: the real scheduler's choice code (`sync_server.farm.scheduler.choose`) against the
FIFO baseline on a fixed workload (scripts/data/farm_trace.json: 848 jobs, 16 mixed-VRAM agents,
model-load costs). Prints makespan vs the lower bound, model loads, high-priority waits, GPU idle share.

The scheduler runs twice, once per kind of compute-time estimate it is given: `job` (each job's own
compute time, as a server could estimate from frames x steps of the job's parameters) and `workflow`
(only the mean compute time of the job's workflow, as a server knows it from history). Jobs always
take their real time; only the estimates handed to the scheduler differ. A retake is unknown to the
scheduler until its submit time. The FarmView is filled as the server would: holders per model, queued
work per model incl. jobs waiting on parents (`demand_s`), VRAM need per model, when the first holder
of each model is expected to be free (`next_free_s`), running jobs per project (here: per shot).

"prio 70: mean wait" is runnable -> started; "mean finish" is when those jobs are done. FIFO's short
wait comes from producing first frames slowly: its rush jobs become runnable late and finish late.

    .venv/bin/python scripts/bench_farm.py [--trace PATH] [--estimates job|workflow|both]
"""

from __future__ import annotations

import argparse
import heapq
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from farm_bounds import lower_bound_packed  # noqa: E402

from sync_server.farm.scheduler import AgentView, FarmView, JobView, choose  # noqa: E402

TRACE = ROOT / "scripts" / "data" / "farm_trace.json"
Chooser = Callable[[AgentView, list[JobView], FarmView], JobView | None]


@dataclass
class Result:
    makespan: float
    loads: int
    waits_by_priority: dict[int, list[float]] = field(default_factory=dict)
    busy_s: float = 0.0
    # agent, job, ready, start, end, loaded a model first
    runs: list[tuple[str, str, float, float, float, bool]] = field(default_factory=list)


def lower_bound(trace: dict) -> float:
    jobs = {j["id"]: j for j in trace["jobs"]}
    agents = trace["agents"]
    total = sum(j["compute_s"] for j in jobs.values()) / len(agents)
    by_vram = 0.0
    for vram in {j["min_vram_gb"] for j in jobs.values()}:
        able = [a for a in agents if a["vram_gb"] >= vram]
        work = sum(j["compute_s"] for j in jobs.values() if j["min_vram_gb"] >= vram)
        by_vram = max(by_vram, work / len(able))

    @cache
    def finish(job_id: str) -> float:
        job = jobs[job_id]
        return max([job["submit_s"]] + [finish(d) for d in job["depends_on"]]) + job["compute_s"]

    return max(total, by_vram, max(finish(j) for j in jobs))


def fifo(agent: AgentView, jobs: list[JobView], _farm: FarmView) -> JobView | None:
    """The earlier prototype: the oldest runnable job that fits the card's VRAM."""
    fitting = [j for j in jobs if j.min_vram_gb <= agent.vram_gb]
    return min(fitting, key=lambda j: (j.submitted_at, j.id), default=None)


def estimates(trace: dict, kind: str) -> dict[str, float]:
    """job id -> the compute-time estimate the scheduler is given (`job`: exact, `workflow`: mean)."""
    if kind == "job":
        return {j["id"]: float(j["compute_s"]) for j in trace["jobs"]}
    by_workflow: dict[str, list[float]] = defaultdict(list)
    for job in trace["jobs"]:
        by_workflow[job["workflow"]].append(job["compute_s"])
    mean = {w: statistics.mean(v) for w, v in by_workflow.items()}
    return {j["id"]: mean[j["workflow"]] for j in trace["jobs"]}


def simulate(trace: dict, chooser: Chooser, estimate_kind: str = "workflow") -> Result:
    jobs = {j["id"]: j for j in trace["jobs"]}
    load_s = {k: float(v) for k, v in trace["model_load_s"].items()}
    estimate = estimates(trace, estimate_kind)
    children: dict[str, list[str]] = defaultdict(list)
    for job in jobs.values():
        for parent in job["depends_on"]:
            children[parent].append(job["id"])

    @cache
    def downstream(job_id: str) -> float:
        return sum(estimate[c] + downstream(c) for c in children[job_id])

    @cache
    def downstream_priority(job_id: str) -> int | None:
        below = [jobs[c]["priority"] for c in children[job_id]]
        below += [p for c in children[job_id] if (p := downstream_priority(c)) is not None]
        return max(below, default=None)

    def view(job_id: str) -> JobView:
        j = jobs[job_id]
        return JobView(
            id=j["id"],
            type=j["type"],
            priority=j["priority"],
            min_vram_gb=j["min_vram_gb"],
            model=j["model"],
            submitted_at=j["submit_s"],
            project=j["shot"],
            estimate_s=estimate[job_id],
            downstream_s=downstream(job_id),
            ready_at=ready_at[job_id],
            downstream_priority=downstream_priority(job_id),
        )

    loaded: dict[str, str | None] = {a["id"]: a["loaded_model"] for a in trace["agents"]}
    vram = {a["id"]: float(a["vram_gb"]) for a in trace["agents"]}
    waiting_parents = {j: len(jobs[j]["depends_on"]) for j in jobs}
    ready_at: dict[str, float] = {j: jobs[j]["submit_s"] for j in jobs if waiting_parents[j] == 0}
    runnable: set[str] = set()
    unstarted = set(jobs)
    idle = set(loaded)
    free_at: dict[str, float] = {}  # busy agent -> when the scheduler expects it to finish
    running_by_project: dict[str, int] = defaultdict(int)
    # What the server can sum cheaply over its queue: work per model of every submitted job not yet
    # started (runnable or waiting on parents), and the largest VRAM need among them.
    demand: dict[str, float] = defaultdict(float)
    model_vram: dict[str, float] = defaultdict(float)
    views: dict[str, JobView] = {}
    events: list[tuple[float, int, str, str]] = []  # (time, order, kind, id)
    order = 0
    for job_id, at in ready_at.items():
        heapq.heappush(events, (at, order, "arrive", job_id))
        order += 1
    result = Result(makespan=0.0, loads=0, waits_by_priority=defaultdict(list))
    now = 0.0
    while events:
        now = events[0][0]
        while events and events[0][0] == now:
            _, _, kind, ident = heapq.heappop(events)
            if kind == "arrive":
                runnable.add(ident)
                views[ident] = view(ident)
            else:
                agent_id, job_id = ident.split("|")
                idle.add(agent_id)
                free_at.pop(agent_id, None)
                running_by_project[jobs[job_id]["shot"]] -= 1
                result.makespan = max(result.makespan, now)
                for child in children[job_id]:
                    waiting_parents[child] -= 1
                    if waiting_parents[child] == 0:
                        at = max(now, jobs[child]["submit_s"])
                        ready_at[child] = at
                        heapq.heappush(events, (at, order, "arrive", child))
                        order += 1
        demand.clear()
        model_vram.clear()
        for job_id, job in jobs.items():
            if job_id in unstarted and job["submit_s"] <= now:
                demand[job["model"]] += estimate[job_id]
                model_vram[job["model"]] = max(model_vram[job["model"]], job["min_vram_gb"])
        for agent_id in sorted(idle):
            if not runnable:
                break
            holders: dict[str, int] = defaultdict(int)
            next_free: dict[str, float] = {}
            for other, model in loaded.items():
                if model:
                    holders[model] += 1
                    free_in = max(0.0, free_at.get(other, now) - now)
                    next_free[model] = min(next_free.get(model, free_in), free_in)
            farm = FarmView(
                now=now,
                holders=holders,
                agent_vram=list(vram.values()),
                running_by_project=running_by_project,
                load_s=load_s,
                demand_s=demand,
                model_vram_gb=model_vram,
                next_free_s=next_free,
            )
            agent = AgentView(id=agent_id, vram_gb=vram[agent_id], loaded_model=loaded[agent_id])
            picked = chooser(agent, [views[j] for j in sorted(runnable)], farm)
            if picked is None:
                continue
            job = jobs[picked.id]
            runnable.discard(picked.id)
            unstarted.discard(picked.id)
            idle.discard(agent_id)
            running_by_project[job["shot"]] += 1
            if job["submit_s"] <= now:
                demand[job["model"]] -= estimate[picked.id]
            duration = job["compute_s"]
            switched = loaded[agent_id] != job["model"]
            if switched:
                duration += load_s[job["model"]]
                loaded[agent_id] = job["model"]
                result.loads += 1
            free_at[agent_id] = now + duration - job["compute_s"] + estimate[picked.id]
            result.runs.append((agent_id, picked.id, ready_at[picked.id], now, now + duration, switched))
            result.busy_s += job["compute_s"]
            result.waits_by_priority[job["priority"]].append(now - ready_at[picked.id])
            heapq.heappush(events, (now + duration, order, "finish", f"{agent_id}|{picked.id}"))
            order += 1
    return result


def report(name: str, result: Result, bound: float, agents: int, trace: dict) -> None:
    idle_share = 1 - result.busy_s / (result.makespan * agents)
    high = result.waits_by_priority.get(70, [0.0])
    priority = {j["id"]: j["priority"] for j in trace["jobs"]}
    done_70 = [end for _, job, _, _, end, _ in result.runs if priority[job] == 70] or [0.0]
    print(
        f"{name:14} makespan {result.makespan:8.0f} s  = {result.makespan / bound:5.3f} x LB   "
        f"model loads {result.loads:4}   prio 70: mean wait {statistics.mean(high):6.1f} s, "
        f"mean finish {statistics.mean(done_70):6.0f} s   GPU idle {idle_share:5.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--estimates", choices=("job", "workflow", "both"), default="both")
    args = parser.parse_args()
    trace = json.loads(args.trace.read_text(encoding="utf-8"))
    bound = lower_bound(trace)
    agents = len(trace["agents"])
    packed = max(bound, lower_bound_packed(trace).value)
    print(
        f"trace: {len(trace['jobs'])} jobs, {agents} agents; lower bound LB = {bound:.0f} s, "
        f"LB++ (loads and whole jobs, scripts/farm_bounds.py) = {packed:.0f} s"
    )
    fifo_result = simulate(trace, fifo)
    report("FIFO", fifo_result, bound, agents, trace)
    kinds = ("job", "workflow") if args.estimates == "both" else (args.estimates,)
    for kind in kinds:
        ours = simulate(trace, choose, kind)
        report(f"sched/{kind}", ours, bound, agents, trace)
        print(f"{'':14} {ours.makespan / packed:.3f} x LB++")
        print(
            f"{'':14} vs FIFO: {fifo_result.makespan / ours.makespan:.3f}x shorter makespan, "
            f"{fifo_result.loads / max(ours.loads, 1):.1f}x fewer model loads"
        )


if __name__ == "__main__":
    main()
