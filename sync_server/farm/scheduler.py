"""Which job an idle agent should run next. Pure functions: the server's claim and the benchmark's farm
simulation call the same code.

The rule, in plain words:

1. Hard filter: only jobs the agent can run at all — dependencies met, enough VRAM, the required tags,
   a job type it supports and is not blocklisted for, and not a job it has already failed (`fits`).
2. A capacity plan, the same for every agent: from the queued work per model (runnable jobs and jobs
   still waiting on parents) the farm's remaining time is estimated, and each model gets the number of
   agents it needs to be done in time. "In time" is earlier for models whose jobs are long and feed
   other work (i2v → interpolate → upscale): their last job plus what follows it must still fit, so a
   model's deadline is moved forward by its jobs' downstream work plus twice their mean length. Models
   that need big cards are planned against the big cards only (an 80 GB card counts for 40 GB work).
3. Models with long jobs (i2v: minutes per job, 50–70 s to load) are "rigid": they are staffed first and
   rounded up. An agent holding a rigid model stays on it while it has work — unless another rigid
   model lacks agents and its own does not. Any agent whose model is not rigid moves to a rigid model
   that lacks agents; a card that is one of few able to run a model goes there first.
4. Everything else (t2i, edits, interpolation, upscale: short jobs, cheap loads) is flexible: an agent
   stays on its loaded model unless that model is over-staffed by half an agent or more; then it goes
   where the shortage is largest, counting as shortage also the work that waits on a model's jobs
   (first frames that unlock i2v) and high-priority jobs nobody will free up for soon. Flexible work
   fills the end of the run, where short jobs pack well. An agent making first frames (jobs that feed
   long work) keeps making them while fewer long jobs are runnable than the agents on long models, plus
   itself, could start: first frames are made ahead, so i2v cards do not run dry and reload.
5. Nothing starves: a job of a model nobody holds that has waited 10 minutes is taken by the next agent
   whose own model can spare it.
6. Within the chosen model: priority as a weight, not a strict class — each priority point is worth
   50 s of critical path (a job inherits the priority of the jobs waiting on it, so a rush shot's first
   frame goes first), plus the critical path itself (this job's time and all the work waiting on it),
   plus an aging term (0.1 s per second waited). Jobs within the same 5-minute band of that score go to
   the project with the fewest running jobs first, then by score, then oldest, then id.
   Low priority defers a long job only while that costs nothing: a long low-priority job (i2v) whose
   critical path is as long as the farm's remaining work scores as a normal one (deferred further, it
   would end the run alone after everything else).

Deterministic (no randomness; ties broken by model name and job id), O(candidates × models).
Estimates: per-job `estimate_s` where the server can compute it (frames × steps), else the workflow's
mean compute time — the rule only needs the per-model means and sums to be about right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_LOAD_S = 30.0
NORMAL_PRIORITY = 50  # the default priority; jobs above it are rush jobs
PRIORITY_POINT_S = 50.0  # seconds of critical path one priority point is worth
AGING = 0.1  # score seconds gained per second waited
SCORE_BAND_S = 300.0  # jobs whose scores fall in the same band compete on project fairness first
DEADLINE_JOBS = 2.0  # a model's work must end this many mean job lengths (+ its downstream) early
RIGID_JOB_S = 120.0  # models whose mean job is at least this long are staffed first
ROUND_UP_FROM = 0.1  # a rigid model needing k + 0.1 agents or more gets k + 1
STAY_SLACK = 0.5  # a flexible model may be over-staffed by this much before its agent leaves
SWITCH_MIN = 0.2  # shortage (in agents) a flexible model must show to draw an agent away
SCARCE_SHARE = 0.5  # a model fewer than this share of agents can run is "scarce"
ORPHAN_WAIT_S = 600.0  # jobs of a model nobody holds are taken once they have waited this long
LATE_SHARE = 1.0  # a low-priority job whose critical path is this share of the remaining work goes as normal
FEED_DEPTH = 1.0  # runnable long jobs per long-model agent (+1) below which first frames are made ahead


@dataclass(frozen=True)
class AgentView:
    """An agent as the scheduler sees it."""

    id: str
    vram_gb: float
    loaded_model: str | None = None
    tags: frozenset[str] = frozenset()
    job_types: frozenset[str] | None = None  # None: any type
    blocked_types: frozenset[str] = frozenset()


@dataclass(frozen=True)
class JobView:
    """A runnable job (its dependencies are met) as the scheduler sees it."""

    id: str
    type: str
    priority: int
    min_vram_gb: float
    model: str | None
    submitted_at: float
    tags: frozenset[str] = frozenset()
    failed_agents: frozenset[str] = frozenset()
    project: str | None = None
    estimate_s: float = 60.0  # expected compute time
    downstream_s: float = 0.0  # compute time of the jobs waiting on this one, transitively
    ready_at: float | None = None  # when it became runnable (parents done); None: submitted_at
    downstream_priority: int | None = None  # highest priority among the jobs waiting on it, transitively


@dataclass(frozen=True)
class FarmView:
    """What the rest of the farm looks like at the moment of the choice."""

    now: float
    holders: Mapping[str, int] = field(default_factory=dict)  # model -> agents that have it loaded
    agent_vram: Sequence[float] = ()  # VRAM of every agent that is up
    running_by_project: Mapping[str, int] = field(default_factory=dict)
    load_s: Mapping[str, float] = field(default_factory=dict)  # model -> load time estimate
    # model -> estimated work of every queued job (runnable or waiting on parents): where capacity will
    # be needed, so agents move to a model before its jobs become runnable. Empty: runnable work only.
    demand_s: Mapping[str, float] = field(default_factory=dict)
    # model -> the largest min_vram_gb among its queued jobs (runnable or waiting on parents).
    model_vram_gb: Mapping[str, float] = field(default_factory=dict)
    # model -> seconds until the first agent holding it is expected to be free (0: one is idle now).
    next_free_s: Mapping[str, float] = field(default_factory=dict)


def fits(agent: AgentView, job: JobView) -> bool:
    """Can `agent` run `job` at all?"""
    return (
        job.min_vram_gb <= agent.vram_gb
        and job.tags <= agent.tags
        and (agent.job_types is None or job.type in agent.job_types)
        and job.type not in agent.blocked_types
        and agent.id not in job.failed_agents
    )


def effective_priority(job: JobView) -> int:
    """The job's priority, raised to that of the most urgent job waiting on it."""
    if job.downstream_priority is None:
        return job.priority
    return max(job.priority, job.downstream_priority)


def waited(job: JobView, now: float) -> float:
    return max(0.0, now - (job.submitted_at if job.ready_at is None else job.ready_at))


def score(job: JobView, now: float) -> float:
    """Critical path + priority weight + aging, in seconds; higher goes first. (`effective_priority` and
    `waited` written out: the claim path scores hundreds of candidates per agent.)"""
    priority = job.priority
    if job.downstream_priority is not None and job.downstream_priority > priority:
        priority = job.downstream_priority
    ready = job.submitted_at if job.ready_at is None else job.ready_at
    return (
        job.estimate_s
        + job.downstream_s
        + PRIORITY_POINT_S * (priority - NORMAL_PRIORITY)
        + AGING * (now - ready if now > ready else 0.0)
    )


def choose(agent: AgentView, jobs: Iterable[JobView], farm: FarmView) -> JobView | None:
    """The job `agent` should take now, or None when nothing it can run is waiting."""
    jobs = list(jobs)
    by_model: dict[str | None, list[JobView]] = {}
    for job in jobs:
        if fits(agent, job):
            by_model.setdefault(job.model, []).append(job)
    if not by_model:
        return None
    plan = _plan(jobs, farm, agent)
    model = _model_to_run(agent, by_model, farm, plan)
    return min(by_model[model], key=_order_within_model(farm, plan.horizon))


def _order_within_model(farm: FarmView, horizon: float) -> Callable[[JobView], tuple]:
    """The sort key of jobs within the chosen model: score bands, then project fairness, then score, age
    and id. A long (rigid-size) low-priority job whose critical path is as long as the farm's remaining
    work (`horizon`) loses its priority penalty: started later, it would end the run after everything
    else."""
    now, running = farm.now, farm.running_by_project
    late = LATE_SHARE * horizon

    def key(job: JobView) -> tuple:
        s = score(job, now)
        if job.estimate_s >= RIGID_JOB_S and job.estimate_s + job.downstream_s >= late:
            priority = effective_priority(job)
            if priority < NORMAL_PRIORITY:
                s += PRIORITY_POINT_S * (NORMAL_PRIORITY - priority)
        return (-(s // SCORE_BAND_S), running.get(job.project or "", 0), -s, job.submitted_at, job.id)

    return key


@dataclass(frozen=True)
class _Plan:
    horizon: float  # seconds the farm still needs, if every model gets its target
    target: Mapping[str, float]  # model -> agents it needs to be done in time
    able: Mapping[str, int]  # model -> agents with enough VRAM for it
    rigid: frozenset[str]  # models with long jobs, staffed first
    stock: int = 0  # runnable jobs of rigid models (what the agents on long models can start next)


def _plan(jobs: Sequence[JobView], farm: FarmView, agent: AgentView) -> _Plan:
    """The capacity plan: agents per model. Depends only on the farm and the queue, not on `agent`."""
    vrams = list(farm.agent_vram) or [agent.vram_gb]
    demand: dict[str, float] = {m: d for m, d in farm.demand_s.items() if d > 0}
    need: dict[str, float] = dict(farm.model_vram_gb)
    work: dict[str, float] = {}
    down: dict[str, float] = {}
    count: dict[str, int] = {}
    for job in jobs:
        m = job.model
        if m is None:
            continue
        if m in count:
            work[m] += job.estimate_s
            down[m] += job.downstream_s
            count[m] += 1
        else:
            work[m], down[m], count[m] = job.estimate_s, job.downstream_s, 1
        if job.min_vram_gb > need.get(m, 0.0):
            need[m] = job.min_vram_gb
    for m, w in work.items():
        demand[m] = max(demand.get(m, 0.0), w)
    lag: dict[str, float] = {}
    jobs_left: dict[str, float] = {}
    for m in demand:
        need.setdefault(m, 0.0)
        if m in count:
            mean = work[m] / count[m]
            lag[m] = down[m] / count[m] + DEADLINE_JOBS * mean
            jobs_left[m] = max(1.0, demand[m] / mean) if mean > 0 else 1.0
        else:  # only jobs waiting on parents: no lead time known yet
            lag[m] = 0.0
            jobs_left[m] = math.inf
    rigid = frozenset(m for m in count if work[m] / count[m] >= RIGID_JOB_S)
    tiers = sorted({need[m] for m in demand})
    pool = {v: sum(1 for x in vrams if x >= v) or 1 for v in tiers}

    def agents_needed(m: str, horizon: float) -> float:
        room = horizon - lag[m]
        return jobs_left[m] if room <= 0 else min(jobs_left[m], demand[m] / room)

    def feasible(horizon: float) -> bool:
        return all(
            sum(agents_needed(m, horizon) for m in demand if need[m] >= v) <= pool[v] + 1e-9 for v in tiers
        )

    # The shortest horizon at which every VRAM tier can staff its models: bisection, 30 steps.
    lo = max(sum(demand.values()) / len(vrams), 1.0)
    for v in tiers:
        lo = max(lo, sum(d for m, d in demand.items() if need[m] >= v) / pool[v])
    if not feasible(lo):
        hi = lo + max(lag.values(), default=0.0) + 1.0
        while not feasible(hi):
            hi *= 2
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
        lo = hi
    return _Plan(
        horizon=lo,
        target={m: agents_needed(m, lo) for m in demand},
        able={m: pool[need[m]] for m in demand},
        rigid=rigid,
        stock=sum(count[m] for m in rigid),
    )


def _model_to_run(
    agent: AgentView, by_model: Mapping[str | None, list[JobView]], farm: FarmView, plan: _Plan
) -> str | None:
    if None in by_model:
        return None  # CPU jobs and the like: no model to load
    n = len(farm.agent_vram) or 1
    loaded = agent.loaded_model
    models = sorted((m for m in by_model if m is not None), key=str)

    def others(m: str) -> int:
        return farm.holders.get(m, 0) - (1 if loaded == m else 0)

    # First frames ahead of the long jobs: an agent on short work that has runnable jobs feeding long work
    # (a first frame whose i2v waits on it) keeps making them while the long models' runnable queue is
    # shallow — fewer than FEED_DEPTH jobs per agent on a long model (and one for this agent). Else the
    # i2v cards run dry, leave for a still or two and load their model again (fleets without small cards).
    if loaded in by_model and loaded not in plan.rigid:
        on_rigid = sum(farm.holders.get(m, 0) for m in plan.rigid)
        if plan.stock < FEED_DEPTH * (on_rigid + 1) and any(
            j.downstream_s >= RIGID_JOB_S for j in by_model[loaded]
        ):
            return loaded

    def able(m: str) -> int:
        return plan.able.get(m, 1)

    def scarce(m: str) -> bool:
        return able(m) < SCARCE_SHARE * n

    def shortage(m: str) -> float:
        """Agents model m still lacks if this one does not serve it."""
        short = plan.target.get(m, 0.0) - others(m)
        load = farm.load_s.get(m, DEFAULT_LOAD_S)
        if m == loaded or farm.next_free_s.get(m, math.inf) > load:
            short += sum(1 for j in by_model[m] if effective_priority(j) > NORMAL_PRIORITY)
        short += sum(j.downstream_s for j in by_model[m]) / plan.horizon
        return short

    def rigid_short(m: str) -> bool:
        return m in plan.rigid and others(m) < math.ceil(plan.target.get(m, 0.0) - ROUND_UP_FROM)

    # A card that is one of few able to run a short rigid model goes there, even from another short rigid
    # model that many cards can run (they can take its work; nobody else can take this one's).
    scarce_short = [m for m in models if m != loaded and rigid_short(m) and scarce(m)]
    if scarce_short and (loaded is None or not scarce(loaded) or loaded not in by_model):
        return max(scarce_short, key=lambda m: (shortage(m) * n / able(m), m))

    # Rigid models first: stay while needed (or while no other rigid model is short).
    # A card that is one of few able to run its loaded model keeps it while it has runnable work (unless
    # another such model lacks agents, or has a job nobody serves that waited past the orphan limit):
    # nobody else can take that work, and leaving it for later puts it at the end of the run, where this
    # card alone works it off.
    def neglected(m: str) -> bool:
        return farm.holders.get(m, 0) == 0 and any(waited(j, farm.now) > ORPHAN_WAIT_S for j in by_model[m])

    if (
        loaded in by_model
        and scarce(loaded)
        and not any(scarce(m) and (rigid_short(m) or neglected(m)) for m in models if m != loaded)
    ):
        return loaded
    if (
        loaded in by_model
        and loaded in plan.rigid
        and (rigid_short(loaded) or not any(rigid_short(m) for m in models if m != loaded))
    ):
        return loaded
    short_rigid = [m for m in models if m != loaded and rigid_short(m)]
    if short_rigid:
        return max(short_rigid, key=lambda m: (scarce(m), shortage(m) * n / able(m)))

    # The end of a long model's work: its last jobs (none waits on parents any more) that would wait for
    # a busy holder past the farm's planned end are taken now by a flexible agent able to load the model
    # before any holder frees up (small fleets, where one i2v job is a tenth of the run, end on such a
    # job otherwise).
    if loaded not in plan.rigid or loaded not in by_model:

        def ends_late(m: str) -> bool:
            if farm.holders.get(m, 0) == 0:
                return False
            free_in = farm.next_free_s.get(m, math.inf)
            queued = sum(j.estimate_s for j in by_model[m])
            longest = max(j.estimate_s + j.downstream_s for j in by_model[m])
            return (
                farm.demand_s.get(m, queued) <= queued + 1.0  # its last jobs: none waits on parents
                and free_in > farm.load_s.get(m, DEFAULT_LOAD_S)
                and free_in + longest > plan.horizon
            )

        late = [m for m in models if m in plan.rigid and m != loaded and ends_late(m)]
        if late:
            return max(late, key=lambda m: (farm.next_free_s.get(m, math.inf), m))

    # Nothing starves: a model nobody holds gets served once its oldest job has waited long enough.
    def oldest(m: str) -> float:
        return max(waited(j, farm.now) for j in by_model[m])

    orphans = [m for m in models if m != loaded and farm.holders.get(m, 0) == 0 and oldest(m) > ORPHAN_WAIT_S]
    if orphans and (loaded not in by_model or shortage(loaded) < 0):
        return max(orphans, key=oldest)

    # Work that unlocks long jobs goes first: a flexible agent leaves its model for a model whose runnable
    # jobs feed more work (an edit between a first frame and its i2v) when no holder of that model will
    # be free before a load — else the long jobs behind it start late and end the run late.
    def unlocks(m: str) -> float:
        return sum(j.downstream_s for j in by_model[m] if j.downstream_s >= RIGID_JOB_S)

    if loaded not in plan.rigid or loaded not in by_model:
        mine = 2 * unlocks(loaded) if loaded in by_model else 0.0
        blocked = [
            m
            for m in models
            if m != loaded
            and m not in plan.rigid
            and farm.next_free_s.get(m, math.inf) > farm.load_s.get(m, DEFAULT_LOAD_S)
            and farm.holders.get(m, 0) == 0
            and unlocks(m) > mine
        ]
        if blocked:
            return max(blocked, key=lambda m: (unlocks(m), m))

    # Flexible work: keep the loaded model unless it is over-staffed and another one is short.
    if loaded in by_model and shortage(loaded) > -STAY_SLACK:
        return loaded

    def threshold(m: str) -> float:
        return 0.0 if m in plan.rigid else SWITCH_MIN

    def rank(m: str) -> tuple:
        s = shortage(m)
        return (s > threshold(m), scarce(m) and s > SWITCH_MIN, s * n / able(m))

    best = max([m for m in models if m not in plan.rigid] or models, key=rank)
    if loaded in by_model and shortage(best) <= threshold(best):
        return loaded
    return best
