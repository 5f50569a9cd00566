"""The farm scheduler's choice: hard filters, priority, affinity, fairness, determinism, and the
simulated farm on the benchmark trace."""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
import sys
from pathlib import Path

import pytest

from sync_server.farm.scheduler import AgentView, FarmView, JobView, choose, fits

ROOT = Path(__file__).resolve().parents[2]


def job(ident: str, **kw) -> JobView:
    fields = {
        "type": "t2i",
        "priority": 50,
        "min_vram_gb": 14.0,
        "model": "flux",
        "submitted_at": 0.0,
        "estimate_s": 30.0,
    }
    fields.update(kw)
    return JobView(id=ident, **fields)


def farm(**kw) -> FarmView:
    fields = {"now": 0.0, "agent_vram": [24.0] * 4, "load_s": {"flux": 35.0, "wan": 70.0, "ltx": 60.0}}
    fields.update(kw)
    return FarmView(**fields)


AGENT = AgentView(id="A1", vram_gb=24.0, tags=frozenset({"cuda"}))


# Hard rules: `fits` is the filter and `choose` never hands out a job that does not fit.


@pytest.mark.parametrize(
    ("agent", "bad"),
    [
        (AGENT, job("vram", min_vram_gb=40.0)),
        (AGENT, job("tags", tags=frozenset({"cuda", "nvlink"}))),
        (AgentView(id="A1", vram_gb=24.0, job_types=frozenset({"upscale"})), job("type", type="t2i")),
        (AgentView(id="A1", vram_gb=24.0, blocked_types=frozenset({"t2i"})), job("blocked", type="t2i")),
        (AGENT, job("failed", failed_agents=frozenset({"A1"}))),
    ],
)
def test_a_job_that_does_not_fit_is_never_chosen(agent: AgentView, bad: JobView) -> None:
    assert not fits(agent, bad)
    # Even as the only job, and even when it is a rush job with a long chain behind it.
    assert choose(agent, [bad], farm()) is None
    urgent = JobView(**{**bad.__dict__, "priority": 90, "downstream_s": 5000.0})
    ok = job("ok", type="upscale", priority=10)
    assert choose(agent, [urgent, ok], farm()) == ok


def test_a_fitting_job_fits() -> None:
    good = job("ok", min_vram_gb=24.0, tags=frozenset({"cuda"}))
    assert fits(AGENT, good)
    assert choose(AGENT, [good], farm()) == good


def test_nothing_runnable_gives_none() -> None:
    assert choose(AGENT, [], farm()) is None


# Priority: a weight, not starvation.


def test_a_rush_job_goes_before_normal_jobs_of_the_same_model() -> None:
    normal = [job(f"n{i}", estimate_s=60.0, downstream_s=500.0, submitted_at=-100.0) for i in range(5)]
    rush = job("rush", priority=70, submitted_at=50.0)
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    assert choose(agent, [*normal, rush], farm(now=60.0, holders={"flux": 1})) == rush


def test_the_parent_of_a_rush_job_inherits_its_urgency() -> None:
    plain = job("plain", downstream_s=600.0)
    feeds_rush = job("feeds-rush", downstream_s=600.0, downstream_priority=70)
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    assert choose(agent, [plain, feeds_rush], farm(holders={"flux": 1})) == feeds_rush


def test_a_low_priority_job_is_not_starved_forever() -> None:
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    low = job("low", priority=40, submitted_at=0.0)
    # Fresh, the normal job goes first; after hours of waiting, aging outweighs ten priority points.
    fresh = job("fresh", submitted_at=20.0)
    assert choose(agent, [low, fresh], farm(now=20.0, holders={"flux": 1})) == fresh
    later = job("later", submitted_at=20_000.0)
    assert choose(agent, [low, later], farm(now=20_000.0, holders={"flux": 1})) == low


def test_a_job_of_a_model_nobody_holds_is_served_once_it_has_waited() -> None:
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    flux = [job(f"f{i}", submitted_at=700.0) for i in range(3)]
    lonely = job("depth", model="depth", submitted_at=0.0)
    # Four agents on flux, which needs fewer; four more on a long i2v model.
    busy = {"agent_vram": [24.0] * 8, "holders": {"flux": 4, "wan": 4}}
    demand = {"flux": 1500.0, "depth": 30.0, "wan": 20_000.0}
    view = farm(now=800.0, demand_s=demand, **busy)
    assert choose(agent, [*flux, lonely], view) == lonely
    early = farm(now=100.0, demand_s=demand, **busy)
    assert choose(agent, [*flux, job("depth", model="depth", submitted_at=0.0)], early).model == "flux"


# Affinity and the capacity plan.


def test_the_loaded_model_is_kept_while_it_has_work() -> None:
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    jobs = [job("flux-1"), job("other-1", model="qwen", min_vram_gb=10.0, estimate_s=31.0)]
    view = farm(holders={"flux": 1}, demand_s={"flux": 30.0, "qwen": 31.0})
    assert choose(agent, jobs, view).model == "flux"


def test_an_agent_on_short_work_moves_to_long_jobs_that_lack_agents() -> None:
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    t2i = [job(f"t{i}") for i in range(10)]
    i2v = [job(f"v{i}", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=500.0) for i in range(10)]
    view = farm(holders={"flux": 4}, demand_s={"flux": 300.0, "wan": 5000.0})
    assert choose(agent, t2i + i2v, view).model == "wan"


def test_a_big_card_takes_the_work_only_big_cards_can_run() -> None:
    vrams = [16.0] * 2 + [24.0] * 8 + [48.0] * 4 + [80.0] * 2
    big = AgentView(id="H100", vram_gb=80.0)
    wan = [job(f"w{i}", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=500.0) for i in range(20)]
    ltx = [job(f"l{i}", type="i2v", model="ltx", min_vram_gb=40.0, estimate_s=200.0) for i in range(20)]
    view = farm(agent_vram=vrams, holders={"wan": 8}, demand_s={"wan": 10_000.0, "ltx": 4000.0})
    assert choose(big, wan + ltx, view).model == "ltx"


def test_projects_with_fewer_running_jobs_go_first_among_equals() -> None:
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    busy = job("busy", project="P1")
    idle = job("idle", project="P2", submitted_at=10.0)
    view = farm(now=10.0, holders={"flux": 1}, running_by_project={"P1": 3, "P2": 0})
    assert choose(agent, [busy, idle], view) == idle


def test_the_choice_is_deterministic_and_ignores_candidate_order() -> None:
    rng = random.Random(7)
    jobs = [
        job(
            f"j{i:03d}",
            model=rng.choice(["flux", "wan", "ltx", "qwen"]),
            min_vram_gb=rng.choice([10.0, 14.0, 24.0, 40.0]),
            priority=rng.choice([40, 50, 50, 70]),
            estimate_s=rng.uniform(10, 600),
            downstream_s=rng.choice([0.0, 300.0]),
            project=rng.choice(["P1", "P2", "P3"]),
            submitted_at=rng.uniform(0, 100),
        )
        for i in range(200)
    ]
    view = farm(
        now=500.0,
        agent_vram=[16.0, 24.0, 24.0, 48.0, 80.0],
        holders={"flux": 2, "wan": 1},
        demand_s={"flux": 2000.0, "wan": 9000.0, "ltx": 3000.0, "qwen": 400.0},
        running_by_project={"P1": 2},
    )
    for vram, loaded in [(16.0, None), (24.0, "flux"), (48.0, "wan"), (80.0, None)]:
        agent = AgentView(id="A", vram_gb=vram, loaded_model=loaded)
        first = choose(agent, jobs, view)
        for _ in range(5):
            shuffled = jobs[:]
            rng.shuffle(shuffled)
            assert choose(agent, shuffled, view) == first


# The simulated farm on the benchmark trace.


def _bench():
    spec = importlib.util.spec_from_file_location("bench_farm", ROOT / "scripts" / "bench_farm.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_farm", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("estimates", ["job", "workflow"])
def test_the_scheduler_beats_fifo_on_the_trace_and_respects_vram(estimates: str) -> None:
    bench = _bench()
    trace = json.loads((ROOT / "scripts" / "data" / "farm_trace.json").read_text(encoding="utf-8"))
    bound = bench.lower_bound(trace)
    fifo = bench.simulate(trace, bench.fifo, estimates)
    ours = bench.simulate(trace, choose, estimates)
    assert len(ours.runs) == len(trace["jobs"])
    assert ours.makespan <= 1.06 * bound
    assert fifo.makespan / ours.makespan >= 1.15
    assert ours.loads * 4 <= fifo.loads
    vram = {a["id"]: a["vram_gb"] for a in trace["agents"]}
    need = {j["id"]: j["min_vram_gb"] for j in trace["jobs"]}
    assert all(need[job_id] <= vram[agent] for agent, job_id, *_ in ours.runs)
    # Rush jobs are not starved: none waits behind the whole queue.
    assert max(ours.waits_by_priority[70]) < 0.5 * ours.makespan


def test_the_only_card_able_to_run_a_model_leaves_work_many_cards_can_take() -> None:
    """A 48 GB card on wan (which five cards run) moves to ltx (which only it runs) when both lack agents:
    the other cards can take over wan's work, nobody else can take ltx's."""
    vrams = [16.0] * 3 + [24.0] * 4 + [48.0]
    big = AgentView(id="A48", vram_gb=48.0, loaded_model="wan")
    wan = [job(f"w{i}", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=600.0) for i in range(15)]
    ltx = [job(f"l{i}", type="i2v", model="ltx", min_vram_gb=40.0, estimate_s=150.0) for i in range(7)]
    view = farm(agent_vram=vrams, holders={"wan": 5}, demand_s={"wan": 9000.0, "ltx": 1050.0})
    assert choose(big, wan + ltx, view).model == "ltx"
    # With ltx staffed (another big card holds it), the card stays on wan.
    staffed = farm(
        agent_vram=[*vrams, 48.0], holders={"wan": 5, "ltx": 1}, demand_s={"wan": 9000.0, "ltx": 1050.0}
    )
    assert choose(big, wan + ltx, staffed).model == "wan"


def test_the_only_card_able_to_run_a_model_finishes_its_work_before_helping_elsewhere() -> None:
    """The only 48 GB card, on ltx (short enough to be flexible), keeps working off the ltx queue while wan
    (which five cards run) lacks agents: wan's other cards can take wan's work later, while ltx left for
    later would end the run with this card alone on it."""
    vrams = [16.0] * 3 + [24.0] * 4 + [48.0]
    big = AgentView(id="A48", vram_gb=48.0, loaded_model="ltx")
    wan = [job(f"w{i}", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=600.0) for i in range(15)]
    ltx = [job(f"l{i}", type="i2v", model="ltx", min_vram_gb=40.0, estimate_s=110.0) for i in range(2)]
    view = farm(agent_vram=vrams, holders={"wan": 4, "ltx": 1}, demand_s={"wan": 9000.0, "ltx": 220.0})
    assert choose(big, wan + ltx, view).model == "ltx"
    # Its ltx queue empty, it goes where it is needed.
    assert choose(big, wan, view).model == "wan"
    # Another model only such cards run, nobody holding it, is not starved by that queue: once its job
    # has waited past the orphan limit, the card serves it (ltx has another holder here).
    lonely = job("big-edit", type="image_edit", model="edit-xl", min_vram_gb=40.0, submitted_at=0.0)
    busy = farm(
        now=700.0, agent_vram=vrams, holders={"wan": 4, "ltx": 2}, demand_s={"wan": 9000.0, "ltx": 220.0}
    )
    assert choose(big, [*ltx, lonely], busy) == lonely


def test_an_edit_that_unlocks_long_jobs_is_not_left_waiting() -> None:
    """An agent on first frames (nothing behind them) picks up the image edits that i2v jobs wait on when
    nobody holds the edit model, instead of leaving them until they have waited ten minutes."""
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    stills = [job(f"f{i}") for i in range(20)]
    edits = [
        job(f"e{i}", type="image_edit", model="qwen", min_vram_gb=10.0, estimate_s=25.0, downstream_s=900.0)
        for i in range(3)
    ]
    view = farm(
        agent_vram=[24.0] * 8,
        holders={"flux": 3, "wan": 5},
        demand_s={"flux": 3000.0, "qwen": 75.0, "wan": 6000.0},
        next_free_s={"flux": 0.0, "wan": 300.0},
    )
    assert choose(agent, stills + edits, view).model == "qwen"
    # Edits that nothing waits on stay where they are: the agent keeps its stills.
    plain = [JobView(**{**e.__dict__, "downstream_s": 0.0}) for e in edits]
    assert choose(agent, stills + plain, view).model == "flux"


def test_a_long_job_is_not_left_to_start_after_the_planned_end() -> None:
    """Near the end of a run, an agent on short work takes a queued i2v job when every i2v holder is busy
    for longer than a load: waiting for one would start that job after the work left is done."""
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="flux")
    stills = [job(f"f{i}", estimate_s=25.0) for i in range(12)]
    wan = [job("w0", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=480.0)]
    tail = {
        "agent_vram": [16.0] * 3 + [24.0] * 5,
        "holders": {"flux": 3, "wan": 4},
        "demand_s": {"flux": 300.0, "wan": 480.0},
    }
    assert choose(agent, stills + wan, farm(next_free_s={"flux": 0.0, "wan": 400.0}, **tail)).model == "wan"
    # A wan holder frees up before this agent could load wan: the agent stays on its stills.
    assert choose(agent, stills + wan, farm(next_free_s={"flux": 0.0, "wan": 20.0}, **tail)).model == "flux"


def test_a_long_low_priority_job_is_not_left_to_end_the_run() -> None:
    """Low priority defers a job only while that costs nothing: a 700 s low-priority i2v job whose
    critical path is as long as the farm's remaining work goes before shorter normal ones (started after
    them, it would end the run alone); with hours of work still queued elsewhere it waits its turn."""
    agent = AgentView(id="A1", vram_gb=24.0, loaded_model="wan")
    low = job("w-low", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=700.0, priority=40)
    normal = [job(f"w{i}", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=400.0) for i in range(3)]
    end = farm(agent_vram=[24.0] * 4, holders={"wan": 4}, demand_s={"wan": 1900.0})
    assert choose(agent, [low, *normal], end) == low
    stills = [job(f"f{i}", estimate_s=30.0) for i in range(3)]
    busy = farm(agent_vram=[24.0] * 4, holders={"wan": 4}, demand_s={"wan": 1900.0, "flux": 20000.0})
    assert choose(agent, [low, *normal, *stills], busy) in normal


def test_first_frames_are_made_ahead_while_the_long_jobs_queue_is_shallow() -> None:
    """On a fleet without small cards, an agent making first frames (each feeds a 600 s i2v job) keeps
    making them while fewer i2v jobs are runnable than the agents on i2v (plus itself) could start: going
    to i2v with one job queued, the i2v cards soon run dry, leave for a still or two and reload their
    model. Once the i2v queue is deep enough, it goes to i2v as before."""
    agent = AgentView(id="A1", vram_gb=48.0, loaded_model="flux")
    frames = [job(f"f{i}", estimate_s=25.0, downstream_s=600.0) for i in range(6)]
    stills = [job(f"s{i}", estimate_s=25.0) for i in range(10)]
    wan = [job(f"w{i}", type="i2v", model="wan", min_vram_gb=24.0, estimate_s=600.0) for i in range(4)]
    view = farm(
        agent_vram=[48.0] * 4,
        holders={"wan": 2, "flux": 2},
        demand_s={"wan": 6000.0, "flux": 400.0},
        next_free_s={"wan": 300.0, "flux": 0.0},
    )
    picked = choose(agent, frames + stills + wan[:1], view)
    assert picked.model == "flux" and picked.id.startswith("f")
    # Three i2v jobs runnable for two i2v agents and this one: it joins them.
    assert choose(agent, frames + stills + wan[:3], view).model == "wan"
    # Stills that feed nothing do not hold it back.
    assert choose(agent, stills + wan[:1], view).model == "wan"


def _traces_bench():
    _bench()
    spec = importlib.util.spec_from_file_location(
        "bench_scheduler_traces", ROOT / "scripts" / "bench_scheduler_traces.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [17_002, 17_006, 18_008])  # 18_008: the first LB+ was above its makespan
def test_generated_traces_run_within_bounds(seed: int) -> None:
    """On generated work (not the trace it was tuned on) every job runs on a card that fits, the tighter
    bound is a bound (never above what the scheduler achieved, never below the plain one), and the
    scheduler stays within 1.2x of it and ahead of FIFO."""
    traces = _traces_bench()
    _, trace = traces.generate(seed)
    bench = _bench()
    plain, tight = bench.lower_bound(trace), traces.lower_bound_with_loads(trace)
    ours = bench.simulate(trace, choose, "job")
    fifo = bench.simulate(trace, bench.fifo, "job")
    assert len(ours.runs) == len(trace["jobs"])
    vram = {a["id"]: a["vram_gb"] for a in trace["agents"]}
    need = {j["id"]: j["min_vram_gb"] for j in trace["jobs"]}
    assert all(need[job_id] <= vram[agent] for agent, job_id, *_ in ours.runs)
    assert plain <= tight <= ours.makespan
    assert ours.makespan <= 1.2 * tight
    assert ours.makespan < fifo.makespan


def _bounds():
    _bench()  # puts scripts/ on the path
    spec = importlib.util.spec_from_file_location("farm_bounds", ROOT / "scripts" / "farm_bounds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_trace(agents: list[float], jobs: list[tuple[str, float, float, list[str]]], loads: dict) -> dict:
    """jobs: (model, compute s, min VRAM GB, parents by index)."""
    return {
        "agents": [{"id": f"A{i}", "vram_gb": v, "loaded_model": None} for i, v in enumerate(agents)],
        "jobs": [
            {
                "id": f"J{i}",
                "workflow": model,
                "type": "t2i",
                "min_vram_gb": vram,
                "model": model,
                "compute_s": compute,
                "priority": 50,
                "depends_on": [f"J{p}" for p in parents],
                "shot": f"S{i}",
                "submit_s": 0.0,
            }
            for i, (model, compute, vram, parents) in enumerate(jobs)
        ],
        "model_load_s": loads,
    }


def test_bin_packing_bound_counts_jobs_that_cannot_share_a_bin() -> None:
    bounds = _bounds()
    sizes = [6.0, 6.0, 6.0]
    assert bounds.bins_needed(sizes, [0.0, 6.0, 12.0, 18.0], 10.0) == 3  # work alone says 2
    assert bounds.bins_needed(sizes, [0.0, 6.0, 12.0, 18.0], 12.0) == 2
    assert bounds.bins_needed(sizes, [0.0, 6.0, 12.0, 18.0], 5.0) == float("inf")


def test_the_packed_bound_reaches_the_optimum_where_whole_jobs_and_loads_decide_it() -> None:
    """Three 100 s jobs of one model (10 s to load) on two agents: one agent must run two of them after
    loading, so no schedule ends before 210 s (work and loads / agents say 160 s) — the bound finds 210 s
    and the simulated scheduler achieves it. A chain still -> big job -> still: the big job's head (the
    first still's load and compute) and tail (the second still) both count."""
    bounds = _bounds()
    bench = _bench()
    trace = _small_trace([24.0, 24.0], [("m", 100.0, 10.0, [])] * 3, {"m": 10.0})
    bound = bounds.lower_bound_packed(trace).value
    assert bench.lower_bound(trace) == 150.0
    assert 209.9 <= bound <= 210.0
    assert bench.simulate(trace, choose, "job").makespan == 210.0
    trace = _small_trace(
        [16.0, 48.0],
        [("s", 50.0, 10.0, []), ("big", 300.0, 40.0, [0]), ("s", 50.0, 10.0, [1])],
        {"s": 20.0, "big": 60.0},
    )
    bound = bounds.lower_bound_packed(trace).value
    assert bound >= 70.0 + 300.0 + 50.0 - 0.1  # the still's load + compute, the big job, its child
    assert bound <= bench.simulate(trace, choose, "job").makespan


@pytest.mark.parametrize("seed", [17_000, 17_002, 17_005, 18_008, 19_003])
def test_the_packed_bound_is_below_every_schedule_found(seed: int) -> None:
    """LB++ never exceeds a real schedule: the scheduler with either estimate, FIFO, and schedules of a
    randomised search around the scheduler; and it is at least the plain bound."""
    traces = _traces_bench()
    bounds = _bounds()
    bench = _bench()
    _, trace = traces.generate(seed)
    bound = bounds.lower_bound_packed(trace).value
    assert bound >= bench.lower_bound(trace) - 1e-6
    makespans = [
        bench.simulate(trace, choose, "job").makespan,
        bench.simulate(trace, choose, "workflow").makespan,
        bench.simulate(trace, bench.fifo, "job").makespan,
        traces.search(trace, 3, seed),
    ]
    assert bound <= min(makespans)


def _optimum(trace: dict) -> float:
    """The exact shortest makespan of a tiny trace, by trying every assignment of jobs to agents that fit
    and every order on each agent; a job starts once its agent is free and has loaded its model (the
    load may run while the job waits for its parents or its submit time) and its parents are done."""
    jobs, agents, load_s = trace["jobs"], trace["agents"], trace["model_load_s"]
    index = {j["id"]: i for i, j in enumerate(jobs)}
    parents = [[index[d] for d in j["depends_on"]] for j in jobs]
    able = [[a for a, agent in enumerate(agents) if agent["vram_gb"] >= j["min_vram_gb"]] for j in jobs]
    best = float("inf")
    for assign in itertools.product(*able):
        queues = [[i for i in range(len(jobs)) if assign[i] == a] for a in range(len(agents))]
        for orders in itertools.product(*(itertools.permutations(q) for q in queues)):
            finish: list[float | None] = [None] * len(jobs)
            at, free = [0] * len(agents), [0.0] * len(agents)
            model = [a["loaded_model"] for a in agents]
            moved = True
            while moved:
                moved = False
                for a, order in enumerate(orders):
                    while at[a] < len(order) and all(finish[p] is not None for p in parents[order[at[a]]]):
                        i = order[at[a]]
                        job = jobs[i]
                        ready = max([job["submit_s"]] + [finish[p] for p in parents[i]])
                        load = 0.0 if model[a] == job["model"] else load_s[job["model"]]
                        finish[i] = max(free[a] + load, ready) + job["compute_s"]
                        free[a], model[a] = finish[i], job["model"]
                        at[a] += 1
                        moved = True
            if all(f is not None for f in finish):
                best = min(best, max(finish))
    return best


def test_the_packed_bound_is_below_the_exact_optimum_of_small_traces() -> None:
    """On 150 random tiny traces (2–3 agents of 16–48 GB, 3–6 jobs of three models with different VRAM
    needs and load times, chains, late submits) the bound never exceeds the exact optimum, and it is
    exact on most of them (the bound is meant to be tight where few whole jobs decide the makespan)."""
    bounds = _bounds()
    exact = 0
    for n, trace in enumerate(bounds.tiny_traces(150)):
        optimum = _optimum(trace)
        bound = bounds.lower_bound_packed(trace).value
        assert bound <= optimum + 1e-6, (n, bound, optimum, trace)
        exact += bound >= optimum - 1e-3
    assert exact >= 100
