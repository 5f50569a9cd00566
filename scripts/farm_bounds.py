"""A lower bound on the makespan of a farm trace (bench_farm's format) that counts model loads and job
granularity: `LB++`, used by `scripts/bench_scheduler_traces.py` and `scripts/bench_farm.py`.

The model of the simulation (the one the bound is about): each agent runs one job at a time; a job of
model m on an agent whose loaded model is not m first loads m (`model_load_s[m]`, the agent is busy for
it); jobs run only on agents with `vram_gb >= min_vram_gb`, not before their submit time nor before their
parents end; agents start with `loaded_model` (None in every trace here). Any schedule of that model,
online or offline, ends no earlier than the bound.

Definitions, per job j: `r_j` (head) = max(submit, first load of its model, parents' r + p) — j cannot start
earlier, since every model not preloaded must be loaded before its first job and a parent runs p after
its own head; `q_j` (tail) = the longest chain of compute after j (max over children c of p_c + q_c) —
every schedule ending by C ends j by C - q_j. `C >= r_j + p_j + q_j` for every j (critical path).

For a makespan C to be possible, these must hold for every VRAM tier v (the jobs needing at least v GB
and the K agents able to run them) and every start time t among the tier's heads (t = 0 and a sample of
40 more):

1. Bins per model. Let S be the tier's jobs with head >= t (all of them for t = 0) and S_m those of
   model m. An agent that runs jobs of S_m runs them one after another inside
   [max(t, min r over S_m), C - min q over S_m] (for t = 0 also after its first load of m); so the
   agents running S_m are bins of that capacity holding every job of S_m whole, and at least n_m of
   them run m — n_m the Martello–Toth L2 bound of bin packing (>= ceil(work / capacity), and counts the
   jobs longer than half a bin one each). If a job is longer than its bin, C is impossible.
2. Energy with loads. Each (agent, model) pair among those n_m's costs a load of m on that agent after
   t, except: at t = 0 agents that hold m from the start; at t > 0 an agent may already hold (or be
   loading) one model at t, so the K most expensive pairs are taken as free. The agents are busy after t
   with at least the compute of S plus the remaining loads, so that must fit in K * (C - t). At t = 0
   every agent that runs tier work loads at least once: with k agents in use, loads >= max(pairs, k);
   the check is made at k = K, which any feasible k implies (one more agent adds C of room and at most
   the tier's cheapest load, and C >= that load).
3. Bins over all models. The jobs of S on one agent fit in [max(t, min head, the cheapest first load
   at t = 0), C]: at most K bins of that capacity (L2 again) hold S.

Each condition is a necessary one for a schedule ending by C, and each gets weaker as C grows, so the
largest C found failing one of them (bisection, 40 steps: the lower end of the last interval, a C shown
impossible, so every C below it is too) is a lower bound on every schedule's makespan. The benchmarks
take the larger of it and the trace bench's `LB+` (also a bound).
`tests/unit/test_scheduler.py` checks it against the exact optimum of random tiny traces (every
assignment and order tried) and against real schedules of generated traces.

What it still does not see (why the worst traces keep a gap): which agent runs which job as a whole
(the bins are per model and per tier, not one assignment of all jobs to agents), the order in which
heads arrive inside a tier beyond the sampled t, and the time the agents of a saturated tier spend on
lower-tier work (first frames on a big card). A node-limited exact assignment of the long (i2v) jobs
to agents (per agent: its jobs, its loads, its heads and tails, plus each tier's energy; a one-off
experiment, not kept) was tried on the worst generated trace (seed 17, trace 3): it finds an assignment
at 2,900 s, 1.03 x this bound (the scheduler: 3,230 s), so per-agent packing and loads alone cannot
raise the bound much further there; whether a schedule near 2,900 s exists is open.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from functools import cache

SAMPLES = 40  # start times t per tier besides 0
STEPS = 40  # bisection steps


def bins_needed(sizes: list[float], prefix: list[float], cap: float) -> float:
    """Martello–Toth L2 lower bound on the bins of capacity `cap` that hold `sizes` (ascending, with
    their prefix sums); inf when one item does not fit at all."""
    n = len(sizes)
    if n == 0:
        return 0
    if cap <= 0 or sizes[-1] > cap + 1e-9:
        return math.inf
    best = math.ceil(prefix[n] / cap - 1e-9)
    small_end = bisect.bisect_right(sizes, cap / 2 + 1e-9)  # items <= cap / 2: sizes[:small_end]
    if small_end == n:
        return best
    for alpha in sorted(set([0.0, *sizes[:small_end]])):
        # J1: longer than cap - alpha (no J3 item fits beside them); J2: (cap/2, cap - alpha];
        # J3: [alpha, cap/2], which fill the room J2's bins leave and then new bins.
        end_2 = bisect.bisect_right(sizes, cap - alpha + 1e-9)
        n1, n2 = n - end_2, end_2 - small_end
        room = n2 * cap - (prefix[end_2] - prefix[small_end])
        start_3 = bisect.bisect_left(sizes, alpha - 1e-9)
        work_3 = prefix[small_end] - prefix[start_3]
        best = max(best, n1 + n2 + max(0, math.ceil((work_3 - room) / cap - 1e-9)))
    return best


def _prefix(values: list[float]) -> list[float]:
    out = [0.0]
    for value in values:
        out.append(out[-1] + value)
    return out


@dataclass(frozen=True)
class _ModelGroup:
    sizes: list[float]
    prefix: list[float]
    head: float  # earliest start of its jobs on an agent (window start)
    tail: float  # least compute that must follow its jobs (window end is C - tail)
    load_s: float
    held_from_start: int  # agents of the tier holding the model at time 0


@dataclass(frozen=True)
class _Check:
    vram: float
    agents: int
    t: float
    from_start: bool
    groups: list[_ModelGroup]
    sizes: list[float]
    prefix: list[float]
    head: float
    cheapest_load: float


@dataclass(frozen=True)
class Bound:
    value: float  # the bound, seconds
    binding: str  # which condition fails just below it (for the decomposition of the gap)
    tier_gb: float
    t: float
    loads_s: float  # the loads the binding check counts on its tier (energy with loads), seconds


def lower_bound_packed(trace: dict) -> Bound:
    """LB++ of `trace` (see the module text for why every schedule ends no earlier)."""
    jobs = {j["id"]: j for j in trace["jobs"]}
    agents = trace["agents"]
    load_s = {m: float(s) for m, s in trace["model_load_s"].items()}
    preloaded = {a["loaded_model"] for a in agents if a["loaded_model"]}
    children: dict[str, list[str]] = {j: [] for j in jobs}
    for job in jobs.values():
        for parent in job["depends_on"]:
            children[parent].append(job["id"])

    def first_load(model: str) -> float:
        return 0.0 if model in preloaded else load_s.get(model, 0.0)

    @cache
    def head(job_id: str) -> float:
        job = jobs[job_id]
        parents = [head(d) + jobs[d]["compute_s"] for d in job["depends_on"]]
        return max([job["submit_s"], first_load(job["model"]), *parents])

    @cache
    def tail(job_id: str) -> float:
        return max([0.0] + [jobs[c]["compute_s"] + tail(c) for c in children[job_id]])

    # Deep chains: fill the caches bottom-up so the recursion stays shallow.
    for job_id in jobs:
        head(job_id)
    for job_id in reversed(list(jobs)):
        tail(job_id)
    critical = max(head(j) + jobs[j]["compute_s"] + tail(j) for j in jobs)
    cheapest_first = 0.0 if preloaded else min(first_load(j["model"]) for j in jobs.values())

    checks: list[_Check] = []
    for vram in sorted({0.0} | {float(j["min_vram_gb"]) for j in jobs.values()}):
        able = [a for a in agents if a["vram_gb"] >= vram]
        tier = sorted((j for j in jobs.values() if j["min_vram_gb"] >= vram), key=lambda j: head(j["id"]))
        if not tier or not able:
            continue
        heads = [head(j["id"]) for j in tier]
        for k in sorted({0, *range(0, len(tier), max(1, len(tier) // SAMPLES))}):
            rest = tier[k:]
            from_start = k == 0
            t = 0.0 if from_start else heads[k]
            by_model: dict[str, list[dict]] = {}
            for job in rest:
                by_model.setdefault(job["model"], []).append(job)
            groups = []
            for model, group in sorted(by_model.items()):
                sizes = sorted(j["compute_s"] for j in group)
                earliest = min(head(j["id"]) for j in group)
                groups.append(
                    _ModelGroup(
                        sizes=sizes,
                        prefix=_prefix(sizes),
                        head=max(earliest, first_load(model)) if from_start else max(t, earliest),
                        tail=min(tail(j["id"]) for j in group),
                        load_s=load_s.get(model, 0.0),
                        held_from_start=sum(1 for a in able if a["loaded_model"] == model),
                    )
                )
            sizes = sorted(j["compute_s"] for j in rest)
            checks.append(
                _Check(
                    vram=vram,
                    agents=len(able),
                    t=t,
                    from_start=from_start,
                    groups=groups,
                    sizes=sizes,
                    prefix=_prefix(sizes),
                    head=max(t, heads[k], cheapest_first if from_start else 0.0),
                    cheapest_load=min(g.load_s for g in groups) if not preloaded else 0.0,
                )
            )

    counted: dict[int, float] = {}  # check -> the loads it counted at the last makespan tried

    def failing(c: float) -> tuple[str, int] | None:
        """The first condition a makespan of `c` breaks, or None."""
        if c < critical - 1e-9:
            return ("critical path", -1)
        for i, check in enumerate(checks):
            pairs: list[float] = []
            for g in check.groups:
                n = bins_needed(g.sizes, g.prefix, c - g.head - g.tail)
                if n == math.inf:
                    return ("job longer than its window", i)
                pairs += [g.load_s] * int(max(0, n - (g.held_from_start if check.from_start else 0)))
            pairs.sort()
            if check.from_start:
                loads = sum(pairs) + max(0, check.agents - len(pairs)) * check.cheapest_load
            else:
                loads = sum(pairs[: max(0, len(pairs) - check.agents)])
            counted[i] = loads
            if check.prefix[-1] + loads > check.agents * (c - check.t) + 1e-6:
                return ("energy with loads", i)
            if bins_needed(check.sizes, check.prefix, c - check.head) > check.agents:
                return ("bins over all models", i)
        return None

    lo = critical
    if failing(lo) is None:
        return Bound(value=lo, binding="critical path", tier_gb=0.0, t=0.0, loads_s=0.0)
    hi = max(lo, 1.0) * 2
    while failing(hi) is not None:
        hi *= 2
    for _ in range(STEPS):
        mid = (lo + hi) / 2
        if failing(mid) is None:
            hi = mid
        else:
            lo = mid
    why, i = failing(lo) or ("", -1)
    return Bound(
        value=lo,
        binding=why,
        tier_gb=checks[i].vram if i >= 0 else 0.0,
        t=checks[i].t if i >= 0 else 0.0,
        loads_s=counted.get(i, 0.0),
    )


def tiny_traces(count: int):
    """`count` random tiny traces (2–3 agents of 16–48 GB, 3–6 jobs of three models with different VRAM needs
    and load times, chains, late submits): small enough for an exact optimum by brute force
    (tests/unit/test_scheduler.py checks the bounds against it; scripts/farm_cpsat_bound.py too)."""
    rng = random.Random(5)
    for _ in range(count):
        models = {"a": (rng.choice([5, 20, 40]), 10), "b": (rng.choice([5, 30, 60]), 24), "c": (15, 10)}
        vrams = rng.choice([[24, 24], [16, 24], [16, 48], [24, 24, 24], [16, 16, 24]])
        jobs = []
        for i in range(rng.randint(3, 6 if len(vrams) == 2 else 5)):
            model = rng.choice(sorted(models))
            jobs.append(
                {
                    "id": f"J{i}",
                    "workflow": model,
                    "type": "t2i",
                    "min_vram_gb": models[model][1],
                    "model": model,
                    "compute_s": float(rng.choice([10, 30, 50, 100, 150, 300])),
                    "priority": 50,
                    "depends_on": [f"J{rng.randrange(i)}"] if i and rng.random() < 0.4 else [],
                    "shot": f"S{i}",
                    "submit_s": float(rng.choice([0, 0, 0, 50, 200])),
                }
            )
        yield {
            "agents": [{"id": f"A{i}", "vram_gb": v, "loaded_model": None} for i, v in enumerate(vrams)],
            "jobs": jobs,
            "model_load_s": {m: float(load) for m, (load, _) in models.items()},
        }
