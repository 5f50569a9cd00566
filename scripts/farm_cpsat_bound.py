"""A proven lower bound on a farm trace's makespan from Google OR-Tools CP-SAT (a bench-only experiment,
next to `scripts/farm_bounds.py`'s LB++): the solver's best objective bound on a relaxation of the
simulation, and the best solution it finds, replayed as a real schedule.

The problem (the simulation of `scripts/bench_farm.py`, as `scripts/farm_bounds.py` states it): each
agent runs one job at a time; a job runs only on an agent with `vram_gb >= min_vram_gb`, not before its
submit time nor before its parents end; an agent holds one model at a time (`loaded_model` at the start,
None in every trace here), and a job of another model first loads its model (`model_load_s`, the agent
busy for it). The simulation loads when the job starts; the exact optimum of
`tests/unit/test_scheduler.py` (`_optimum`) also lets the load run while the job waits — either way the
model below is a relaxation of it.

The model (integer tenths of a second: every time in these traces has one decimal, so nothing is
rounded): per job a start and a fixed compute interval, release (submit time, and its model's first
load), precedence (a child starts after its parents end), makespan >= its end + its tail (the longest
chain of compute after it); per job and able agent an optional copy of that interval (exactly one
present). Loads, `--campaigns k`: per (agent, model) up to k campaigns, each a load of the model (none
for a model the agent holds at the start) and then at least one job of that model; a job on that agent
runs in one of them, after its load. The first k - 1 campaigns are closed: a span from the load to the
campaign's last job, and no other campaign's span, open-campaign job or open-campaign load overlaps it;
campaign k is open (its jobs need only follow its load, so reloads beyond k are free). k = 1: one load
per (agent, model) used, jobs interleaving freely. Per agent a no-overlap of its job copies and loads.
Redundant, to help the proof: per agent its compute + loads <= makespan, a cumulative of all jobs
(capacity: the agents), per VRAM tier one of the tier's jobs plus the loads on the tier's agents.
`--tier` models one VRAM tier alone (`restrict`: its jobs on its agents, released at their heads in the
whole trace, with their tails there).

Why it is a relaxation (never above the true optimum): take any real schedule. On each agent the loads
cut its time into blocks, each a load of model m and then only jobs of m. Map the first k - 1 blocks of
(agent, m) to the closed campaigns (span: the load's start to the block's last job) and the rest to the
open campaign (its load: the k-th load). Blocks do not overlap, so spans, open jobs and open loads do
not; each campaign has a job, follows the one before it, and its jobs follow its load; precedence,
releases, tails, VRAM, the per-agent sums and the cumulatives hold; the makespan is the same. So every
real schedule is a solution, and a makespan C the model cannot reach (INFEASIBLE) no real schedule
reaches either. With `--tier`, drop every other job and agent from the real schedule: the tier's
blocks are still there (every model has one VRAM need here, so a block of a tier model holds a tier
job). What it drops: reloads beyond k per (agent, model); the load may run while the job waits (as in
`tests/unit/test_scheduler.py`'s `_optimum`; the simulation loads when it starts the job, a stricter
problem, so the bound holds for it too).

How it is used: destructive lower bounding (`solve` with `high`): C goes up from LB++ by 0.5 %, 1 %,
2 % ... while CP-SAT proves the model infeasible, then bisects; FEASIBLE at C means this relaxation
cannot prove C (its optimum is <= C), UNKNOWN that CP-SAT ran out of time. `--minimise` minimises once
from the scheduler's schedule instead (CP-SAT's `ObjectiveBound` is then the bound). A relaxed solution's
assignment and per-agent order, replayed with the simulation's semantics (`replay`), is a real schedule.

Findings (2026-12-07, 06:00–06:35 UTC, 2 cores at load 5–11, 1 worker). Tiny traces (the unit test's
150, exact optimum by brute force): never above the optimum; equal on 144 (k = 1) and 149 (k = 2).
Seed 17 (scheduler with per-job estimates, the same `simulate`): CP-SAT proved nothing above LB++ on
traces 3, 1, 6, 8 (every decision step from LB++ + 0.5 % down to + 0.06 % UNKNOWN at k = 2 in 30–60 s,
with or without the symmetry cuts), and its own objective bound (`--minimise`, k = 2, 90–150 s) stays
below LB++: 0.966 (trace 3), 0.955 (1), 0.969 (8), 0.981 (12) x LB++, none on trace 6 (319 jobs). The
relaxations it could decide are not much tighter than LB++: trace 3 with k = 1 has a solution at
2,824 s (1.002 x LB++), its 20+ GB tier alone with k = 2 one at 2,821 s (1.001 x); with k = 2 on the
whole trace, trace 8 has one at 3,307 s (1.005 x) and trace 1 one at 2,846 s (1.05 x), so this model
can never prove more than that there. So on these traces the gap (1.04–1.14 x LB++) is either reloads
beyond two per (agent, model), the time a load cannot overlap waiting, or the scheduler's; this
experiment does not tell which on traces 3, 1, 6, 12. On trace 8 the k = 2 solution replayed is a real
schedule of 3,373 s (1.025 x LB++; the scheduler: 3,449 s, 1.023 x it).

ortools is an optional, bench-only dependency (not in pyproject.toml): install it into a separate venv,

    python3.11 -m venv /tmp/ortools-venv && /tmp/ortools-venv/bin/pip install ortools pytest
    PYTHONPATH=. /tmp/ortools-venv/bin/python scripts/farm_cpsat_bound.py --seed 17 --trace 3 \\
        [--trace 1 ...] [--time 300] [--step 60] [--campaigns 2] [--tier binding] [--minimise] [--workers 1]
    PYTHONPATH=. /tmp/ortools-venv/bin/python scripts/farm_cpsat_bound.py --shipped --time 300
    PYTHONPATH=. /tmp/ortools-venv/bin/python scripts/farm_cpsat_bound.py --tiny 150 [--campaigns 2]

`--trace N` is the N-th generated trace of `bench_scheduler_traces.py --seed S` (1 = its first). `--tiny N`
checks the bound against the exact optimum of the unit test's random tiny traces (imports that test
module, hence pytest in the venv).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

try:
    from ortools.sat.python import cp_model
except ImportError:
    sys.exit(
        "farm_cpsat_bound.py needs Google OR-Tools (optional, bench only; not a project dependency):\n"
        "  python3.11 -m venv /tmp/ortools-venv && /tmp/ortools-venv/bin/pip install ortools\n"
        "  PYTHONPATH=. /tmp/ortools-venv/bin/python scripts/farm_cpsat_bound.py ..."
    )

from bench_farm import TRACE, simulate  # noqa: E402
from bench_scheduler_traces import generate, lower_bound_with_loads  # noqa: E402
from farm_bounds import lower_bound_packed, tiny_traces  # noqa: E402

from sync_server.farm.scheduler import choose  # noqa: E402

SCALE = 10  # tenths of a second


@dataclass
class Outcome:
    bound: float  # proven lower bound on the real optimum, seconds
    relaxed: float  # best relaxed solution's makespan (the relaxation's optimum is <= this)
    replayed: float  # that solution's assignment and order as a real schedule (>= the optimum)
    status: str
    seconds: float


def ticks(seconds: float) -> int:
    return round(seconds * SCALE)


def replay(trace: dict, orders: dict[str, list[str]]) -> float:
    """The makespan of a real schedule: each agent runs its jobs in the given order, a job starting when
    its parents are done, it is submitted and the agent is free, then loading its model if the agent holds
    another (the simulation's semantics)."""
    jobs = {j["id"]: j for j in trace["jobs"]}
    load_s = trace["model_load_s"]
    model = {a["id"]: a["loaded_model"] for a in trace["agents"]}
    free = dict.fromkeys(orders, 0.0)
    at = dict.fromkeys(orders, 0)
    finish: dict[str, float] = {}
    moved = True
    while moved:
        moved = False
        for agent, order in orders.items():
            while at[agent] < len(order) and all(p in finish for p in jobs[order[at[agent]]]["depends_on"]):
                job = jobs[order[at[agent]]]
                start = max([free[agent], job["submit_s"]] + [finish[p] for p in job["depends_on"]])
                load = 0.0 if model[agent] == job["model"] else load_s[job["model"]]
                finish[job["id"]] = start + load + job["compute_s"]
                free[agent], model[agent] = finish[job["id"]], job["model"]
                at[agent] += 1
                moved = True
    if len(finish) < len(jobs):
        return float("inf")  # an order against the dependencies (cannot come from a solution)
    return max(finish.values(), default=0.0)


def restrict(trace: dict, vram: float) -> dict:
    """The VRAM tier `vram` alone: its jobs (those needing at least `vram` GB) on its agents, each job
    released at its head in the whole trace (submit, its model's first load, its parents' heads and
    compute, `farm_bounds.py`'s r_j) and with its tail there (`tail_s`: the longest chain of compute after
    it). A relaxation: drop every other job and agent from a real schedule and what is left is a solution
    of this one (the loads of the tier's models on the tier's agents are still there, in the same blocks).
    Needs every model to have one VRAM need (true of these traces), so a campaign of a tier model always
    holds a tier job."""
    jobs = {j["id"]: j for j in trace["jobs"]}
    agents = trace["agents"]
    needs: dict[str, set] = defaultdict(set)
    for job in jobs.values():
        needs[job["model"]].add(job["min_vram_gb"])
    mixed = [m for m, v in needs.items() if len(v) > 1 and min(v) < vram <= max(v)]
    if mixed:
        raise ValueError(f"models with jobs on both sides of the {vram} GB tier: {mixed}")
    children: dict[str, list[str]] = defaultdict(list)
    for job in jobs.values():
        for parent in job["depends_on"]:
            children[parent].append(job["id"])

    def first_load(model: str, need: float) -> float:
        able = [a for a in agents if a["vram_gb"] >= need]
        return min(0.0 if a["loaded_model"] == model else float(trace["model_load_s"][model]) for a in able)

    @cache
    def head(job_id: str) -> float:
        job = jobs[job_id]
        parents = [head(p) + jobs[p]["compute_s"] for p in job["depends_on"]]
        return max([job["submit_s"], first_load(job["model"], job["min_vram_gb"])] + parents)

    @cache
    def tail(job_id: str) -> float:
        return max((jobs[c]["compute_s"] + tail(c) for c in children[job_id]), default=0.0)

    kept = {j for j, job in jobs.items() if job["min_vram_gb"] >= vram}
    return {
        "agents": [a for a in agents if a["vram_gb"] >= vram],
        "jobs": [
            {
                **jobs[j],
                "submit_s": math.floor(head(j) * SCALE + 1e-6) / SCALE,
                "depends_on": [p for p in jobs[j]["depends_on"] if p in kept],
                "tail_s": math.floor(tail(j) * SCALE + 1e-6) / SCALE,
            }
            for j in sorted(kept)
        ],
        "model_load_s": trace["model_load_s"],
    }


def build(trace: dict, deadline: int | None, hint_runs: list | None, campaigns: int = 1):
    """The relaxation as a CP-SAT model. With `deadline` (ticks) every job ends by it (a decision model:
    INFEASIBLE proves the optimum is above it); without, the makespan is minimised below the horizon."""
    jobs = {j["id"]: j for j in trace["jobs"]}
    agents = trace["agents"]
    load = {m: ticks(s) for m, s in trace["model_load_s"].items()}
    children: dict[str, list[str]] = defaultdict(list)
    for job in jobs.values():
        for parent in job["depends_on"]:
            children[parent].append(job["id"])

    @cache
    def tail(job_id: str) -> int:
        below = max((ticks(jobs[c]["compute_s"]) + tail(c) for c in children[job_id]), default=0)
        return max(below, round(jobs[job_id].get("tail_s", 0.0) * SCALE))

    horizon = deadline
    if horizon is None:
        horizon = sum(ticks(j["compute_s"]) + load[j["model"]] for j in jobs.values())
        horizon += max(ticks(j["submit_s"]) for j in jobs.values()) + max(tail(j) for j in jobs)
    model = cp_model.CpModel()
    makespan = model.new_int_var(0, horizon, "makespan")
    start, end, master = {}, {}, {}
    copies: dict[str, list] = defaultdict(list)  # agent -> its intervals (job copies and loads)
    present: dict[tuple[str, str], cp_model.IntVar] = {}
    loads: dict[tuple[str, str], object] = {}
    load_intervals: list[tuple[str, object]] = []  # (agent, a load interval on it)
    spans: dict[str, list] = defaultdict(list)  # agent -> closed campaigns' spans, open campaigns' work
    held_by = {a["id"]: a["loaded_model"] for a in agents}
    members: dict[tuple, list] = defaultdict(list)  # ((agent, model), campaign) -> its jobs' literals

    def add_campaigns(key: tuple[str, str], held: bool) -> list[tuple]:
        """`campaigns` blocks of (agent, model): a load, then that model's jobs. The first campaigns are
        closed (a span from the load to their last job, which no other campaign's span overlaps); the
        last is open (later reloads are free: its jobs need only follow its load)."""
        agent_id, name = key
        out: list[tuple] = []
        previous_end = None
        for k in range(campaigns):
            tag = f"{agent_id}_{name}_{k}"
            used = model.new_bool_var(f"u_{tag}")
            ls = model.new_int_var(0, horizon, f"ls_{tag}")
            length = 0 if held and k == 0 else load[name]
            le = model.new_int_var(0, horizon, f"le_{tag}")
            if length:
                interval = model.new_optional_interval_var(ls, length, le, used, f"l_{tag}")
                copies[agent_id].append(interval)
                load_intervals.append((agent_id, interval))
            else:
                model.add(le == ls)
            if k:
                model.add_implication(used, out[-1][0])
                model.add(ls >= previous_end).only_enforce_if(used)
            if k < campaigns - 1:
                se = model.new_int_var(0, horizon, f"se_{tag}")
                size = model.new_int_var(0, horizon, f"sz_{tag}")
                spans[agent_id].append(model.new_optional_interval_var(ls, size, se, used, f"span_{tag}"))
                model.add(se >= le)
                previous_end = se
                out.append((used, le, se))
            else:
                if length:
                    spans[agent_id].append(interval)
                out.append((used, le, None))
        return out

    for job_id, job in jobs.items():
        p = ticks(job["compute_s"])
        able = [a for a in agents if a["vram_gb"] >= job["min_vram_gb"]]
        if not able:
            raise ValueError(f"no agent can run {job_id}")
        # Not before its submit time, nor before its model is loaded on some able agent.
        first = min(0 if a["loaded_model"] == job["model"] else load[job["model"]] for a in able)
        earliest = max(ticks(job["submit_s"]), first)
        latest = horizon - tail(job_id)
        if earliest + p > latest:
            return None  # this job alone cannot end by the deadline
        start[job_id] = model.new_int_var(earliest, latest - p, f"s_{job_id}")
        end[job_id] = model.new_int_var(earliest + p, latest, f"e_{job_id}")
        master[job_id] = model.new_interval_var(start[job_id], p, end[job_id], f"i_{job_id}")
        model.add(makespan >= end[job_id] + tail(job_id))
        for agent in able:
            x = model.new_bool_var(f"x_{job_id}_{agent['id']}")
            present[job_id, agent["id"]] = x
            copies[agent["id"]].append(
                model.new_optional_interval_var(start[job_id], p, end[job_id], x, f"c_{job_id}_{agent['id']}")
            )
            key = (agent["id"], job["model"])
            if campaigns > 1:
                if key not in loads:
                    loads[key] = add_campaigns(key, agent["loaded_model"] == job["model"])
                ys = []
                for k, (used, le, se) in enumerate(loads[key]):
                    y = model.new_bool_var(f"y_{job_id}_{agent['id']}_{k}")
                    ys.append(y)
                    members[key, k].append(y)
                    model.add_implication(y, used)
                    model.add(start[job_id] >= le).only_enforce_if(y)
                    if se is not None:
                        model.add(end[job_id] <= se).only_enforce_if(y)
                    else:  # the open campaign: its jobs lie outside every closed campaign's span
                        spans[agent["id"]].append(
                            model.new_optional_interval_var(
                                start[job_id], p, end[job_id], y, f"o_{job_id}_{agent['id']}"
                            )
                        )
                model.add(sum(ys) == x)
                continue
            if agent["loaded_model"] == job["model"]:
                continue
            if key not in loads:
                used = model.new_bool_var(f"u_{key[0]}_{key[1]}")
                ls = model.new_int_var(0, horizon, f"ls_{key[0]}_{key[1]}")
                le = model.new_int_var(0, horizon, f"le_{key[0]}_{key[1]}")
                interval = model.new_optional_interval_var(ls, load[key[1]], le, used, f"l_{key[0]}_{key[1]}")
                loads[key] = (used, le, interval)
                load_intervals.append((key[0], interval))
                copies[agent["id"]].append(interval)
            used, le, _ = loads[key]
            model.add_implication(x, used)
            model.add(start[job_id] >= le).only_enforce_if(x)
        model.add_exactly_one(present[job_id, a["id"]] for a in able)
        for parent in job["depends_on"]:
            model.add(start[job_id] >= end[parent])
    for intervals in copies.values():
        model.add_no_overlap(intervals)
    # Redundant, for the LP: an agent's compute and loads fit in the horizon (its no-overlap implies it).
    busy: dict[str, list] = defaultdict(list)
    for (job_id, agent_id), x in present.items():
        busy[agent_id].append(ticks(jobs[job_id]["compute_s"]) * x)
    for (agent_id, name), value in loads.items():
        if campaigns == 1:
            busy[agent_id].append(load[name] * value[0])
        else:
            held = held_by[agent_id] == name
            busy[agent_id] += [load[name] * used for k, (used, _, _) in enumerate(value) if k or not held]
    for terms in busy.values():
        model.add(sum(terms) <= makespan)
    for intervals in spans.values():
        model.add_no_overlap(intervals)
    # Symmetry: agents alike (VRAM, model at the start) are interchangeable; number them in the order of
    # their first job (by id), so a job runs on the i-th of them only if the (i-1)-th runs an earlier one.
    alike: dict[tuple, list[str]] = defaultdict(list)
    for agent in agents:
        alike[agent["vram_gb"], agent["loaded_model"] or ""].append(agent["id"])
    order = list(jobs)
    for group in alike.values():
        for before, after in zip(group, group[1:], strict=False):
            opened = None  # does `before` run any job up to this one?
            for job_id in order:
                x_before, x_after = present.get((job_id, before)), present.get((job_id, after))
                if x_after is not None:
                    model.add(x_after <= (opened if opened is not None else 0))
                if x_before is not None:
                    now_open = model.new_bool_var(f"open_{before}_{job_id}")
                    model.add(now_open >= x_before)
                    if opened is not None:
                        model.add(now_open >= opened)
                        model.add(now_open <= opened + x_before)
                    else:
                        model.add(now_open <= x_before)
                    opened = now_open
    for (key, k), ys in members.items():  # a campaign (a load) is there for at least one job
        model.add(sum(ys) >= 1).only_enforce_if(loads[key][k][0])
    model.add_cumulative(list(master.values()), [1] * len(master), len(agents))
    for vram in sorted({j["min_vram_gb"] for j in jobs.values()}):
        tier_agents = {a["id"] for a in agents if a["vram_gb"] >= vram}
        intervals = [master[j] for j, job in jobs.items() if job["min_vram_gb"] >= vram]
        intervals += [iv for a, iv in load_intervals if a in tier_agents]
        model.add_cumulative(intervals, [1] * len(intervals), len(tier_agents))
    if deadline is None:
        model.minimize(makespan)
    for agent_id, job_id in hint_runs or []:
        for a in agents:
            if (job_id, a["id"]) in present:
                model.add_hint(present[job_id, a["id"]], a["id"] == agent_id)
    return model, start, present


def run_model(model, seconds: float, workers: int, log: bool):
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    solver.parameters.log_search_progress = log
    return solver, solver.solve(model)


def orders_of(trace: dict, solver, start, present) -> dict[str, list[str]]:
    orders: dict[str, list[str]] = {a["id"]: [] for a in trace["agents"]}
    for (job_id, agent_id), x in present.items():
        if solver.boolean_value(x):
            orders[agent_id].append(job_id)
    for order in orders.values():
        order.sort(key=lambda j: (solver.value(start[j]), j))
    return orders


def solve(
    trace: dict,
    time_limit: float,
    workers: int,
    low: float = 0.0,
    high: float | None = None,
    hint: bool = True,
    log: bool = False,
    step_limit: float = 60.0,
    campaigns: int = 1,
) -> Outcome:
    """Without `high`: minimise the makespan once (small traces). With it: destructive lower bounding
    between `low` and `high` (seconds; `low` a known bound such as LB++, `high` a real schedule's
    makespan): each step asks CP-SAT whether the relaxation has a solution ending by C (at most
    `step_limit` s); INFEASIBLE proves every schedule ends after C. C goes up from `low` by 0.5 %, 1 %,
    2 % ... while proofs come, then bisects down from the first C not proved. The bound reported is
    CP-SAT's alone (0 when nothing was proved): the largest C it proved infeasible plus one tick, or its
    objective bound when minimising."""
    began = time.monotonic()
    runs = None
    if hint:
        runs = [(r[0], r[1]) for r in simulate(trace, choose, "job").runs]
    if high is None:
        built = build(trace, None, runs, campaigns)
        model, start, present = built
        solver, status = run_model(model, time_limit, workers, log)
        name = solver.status_name(status)
        took = time.monotonic() - began
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Outcome(solver.best_objective_bound / SCALE, float("inf"), float("inf"), name, took)
        replayed = replay(trace, orders_of(trace, solver, start, present))
        return Outcome(
            solver.best_objective_bound / SCALE, solver.objective_value / SCALE, replayed, name, took
        )
    lo, hi = ticks(low), ticks(high)  # every C < lo is open (not tested); hi: a relaxed solution ends by it
    proven, relaxed, replayed, steps = 0, high, float("inf"), []
    delta, galloping = max(1, lo // 200), True  # from low up: +0.5 %, +1 %, +2 % ... while proofs come
    while hi - lo > max(1, lo // 1000):
        left = time_limit - (time.monotonic() - began)
        if left < 5:
            break
        c = min(lo + delta, hi - 1) if galloping else (lo + hi) // 2
        built = build(trace, c, runs, campaigns)
        if built is None:
            status_name = "INFEASIBLE (a job's head + compute + tail)"
            proven, lo = c + 1, c + 1
        else:
            model, start, present = built
            solver, status = run_model(model, min(step_limit, left), workers, log)
            status_name = solver.status_name(status)
            if status == cp_model.INFEASIBLE:
                proven, lo = c + 1, c + 1
                delta *= 2
            elif status in (cp_model.FEASIBLE, cp_model.OPTIMAL):
                hi, galloping = c, False
                relaxed = c / SCALE
                replayed = min(replayed, replay(trace, orders_of(trace, solver, start, present)))
            else:
                hi, galloping = c, False  # unknown: look lower, where a proof may be in reach
        steps.append(f"{c / SCALE:.0f}:{status_name.split()[0][:4]}")
        print(f"    C = {c / SCALE:.1f} s: {status_name}", flush=True)
    return Outcome(proven / SCALE, relaxed, replayed, " ".join(steps), time.monotonic() - began)


def check_tiny(count: int, workers: int, campaigns: int, tier: float | None) -> None:
    spec = importlib.util.spec_from_file_location(
        "test_scheduler", ROOT / "tests" / "unit" / "test_scheduler.py"
    )
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    exact = above = 0
    worst = 1.0
    for n, trace in enumerate(tiny_traces(count)):
        optimum = tests._optimum(trace)
        modelled = restrict(trace, tier) if tier else trace
        if not modelled["jobs"]:
            continue
        out = solve(modelled, 30.0, workers, hint=False, campaigns=campaigns)
        packed = lower_bound_packed(trace).value
        if out.bound > optimum + 1e-6:
            above += 1
            print(f"tiny {n}: CP-SAT bound {out.bound} ABOVE the optimum {optimum}", flush=True)
        exact += out.bound >= optimum - 1e-3
        worst = max(worst, optimum / max(out.bound, 1e-9))
        if not tier and out.replayed < optimum - 1e-6:
            print(f"tiny {n}: replayed schedule {out.replayed} below the optimum {optimum}?", flush=True)
        if n < 5 or out.bound < optimum - 1e-3:
            print(
                f"tiny {n}: optimum {optimum:.0f}, CP-SAT bound {out.bound:.1f} ({out.status}), "
                f"LB++ {packed:.1f}, replayed {out.replayed:.0f}",
                flush=True,
            )
    print(
        f"{count} tiny traces: bound above the optimum on {above}, equal on {exact}, "
        f"worst optimum/bound {worst:.3f}"
    )


def report(name: str, trace: dict, args: argparse.Namespace) -> None:
    packed = lower_bound_packed(trace)
    tight = max(lower_bound_with_loads(trace), packed.value)
    sched = simulate(trace, choose, "job").makespan
    modelled = trace
    if args.tier:
        vram = packed.tier_gb if args.tier == "binding" else float(args.tier)
        modelled = restrict(trace, vram)
        size = f"{len(modelled['jobs'])} jobs, {len(modelled['agents'])} agents"
        name += f" [the {vram:.0f}+ GB tier alone: {size}]"
    out = solve(
        modelled,
        args.time,
        args.workers,
        low=tight,
        high=None if args.minimise else sched,
        log=args.log,
        step_limit=args.step,
        campaigns=args.campaigns,
        hint=not args.tier,
    )
    if args.tier:
        out.replayed = float("inf")  # a schedule of the tier alone is no schedule of the trace
    best_real = min(sched, out.replayed)
    print(
        f"{name}: {len(trace['jobs'])} jobs, {len(trace['agents'])} agents; LB++ {tight:.0f} s, "
        f"CP-SAT bound {out.bound:.0f} s ({out.bound / tight:.3f} x LB++; steps {out.status}; "
        f"{out.seconds:.0f} s), "
        f"best relaxed solution {out.relaxed:.0f} s, replayed as a real schedule {out.replayed:.0f} s; "
        f"scheduler {sched:.0f} s = {sched / tight:.3f} x LB++ = {sched / max(tight, out.bound):.3f} x "
        f"max(LB++, CP-SAT bound); scheduler / best real schedule known here {sched / best_real:.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--trace", type=int, action="append", default=[], help="generated trace, 1-based")
    parser.add_argument("--shipped", action="store_true", help="the shipped trace (scripts/data)")
    parser.add_argument(
        "--tiny", type=int, default=0, help="check against the exact optimum of N tiny traces"
    )
    parser.add_argument("--time", type=float, default=300.0, help="CP-SAT time limit per trace, seconds")
    parser.add_argument("--step", type=float, default=60.0, help="time limit of one bisection step, seconds")
    parser.add_argument(
        "--campaigns", type=int, default=1, help="campaigns per (agent, model) before reloads are free (1-3)"
    )
    parser.add_argument(
        "--tier", help="model one VRAM tier alone (GB, or `binding`: LB++'s binding tier); see `restrict`"
    )
    parser.add_argument(
        "--minimise",
        action="store_true",
        help="minimise once from the scheduler's schedule (the best relaxed solution found; its bound)",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log", action="store_true", help="CP-SAT's search log")
    args = parser.parse_args()
    if args.tiny:
        check_tiny(args.tiny, args.workers, args.campaigns, float(args.tier) if args.tier else None)
    if args.shipped:
        report("shipped", json.loads(TRACE.read_text(encoding="utf-8")), args)
    for n in args.trace:
        described, trace = generate(args.seed * 1000 + n - 1)
        report(f"seed {args.seed} trace {n} ({described.strip()})", trace, args)


if __name__ == "__main__":
    main()
