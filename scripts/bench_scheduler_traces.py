"""The farm scheduler on work it was not tuned on: seeded, generated traces (recipe chains with
dependencies, fleet sizes and VRAM mixes, priorities, retakes) run through the same event simulation as
`scripts/bench_farm.py` (the server's real `choose`), each against two lower bounds:

- `LB` — bench_farm's bound: total work / agents, work of each VRAM tier / the agents able to run it, and
  the critical path of the dependency graph;
- `LB+` — the same bound counting the model loads no schedule can avoid: every distinct model a trace
  needs is loaded at least once on an agent able to run it (models no agent holds at the start), every
  agent that does any work loads at least once (k agents in use: the bound is the lowest over k of
  (work + unavoidable loads) / k), and a chain cannot start before its first model could be loaded;
  per VRAM tier, the work released after a time t needs t + that work / the tier's agents (the loads
  count from time 0 only: after t an idle agent may have loaded a model already);
- `LB++` — `scripts/farm_bounds.py`: per VRAM tier and start time, the jobs of each model as whole jobs
  in bins (agents) of the time they can run in (heads and tails of the dependency graph), a load for
  every agent a model needs, and the tier's energy with those loads (the proof is in that module). The
  ratios are taken against max(LB+, LB++).

Prints one row per trace (makespan / LB and / LB++ for the scheduler with per-job and per-workflow
estimates, and for FIFO), then the worst and the mean ratio. Deterministic for a given `--seed`.

`--parts` adds, per trace, where the scheduler's time goes on the agents of the bound's binding VRAM tier
(`gap_parts`). `--search N` then runs a randomised search around the scheduler (`search`) on the three
worst traces: the best schedule it finds bounds the optimum from above, so it tells how much of the gap
is the bound.

    .venv/bin/python scripts/bench_scheduler_traces.py [--traces 12] [--seed 17] [--save DIR] [--parts]
        [--search 100]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_farm import TRACE, Result, fifo, lower_bound, simulate  # noqa: E402
from farm_bounds import Bound, lower_bound_packed  # noqa: E402

from sync_server.farm.scheduler import AgentView, FarmView, JobView, choose, fits  # noqa: E402

# workflow -> (type, model, min VRAM GB, mean compute s, spread) — the shipped trace's catalogue.
WORKFLOWS: dict[str, tuple[str, str, int, float, float]] = {
    "flux_t2i": ("t2i", "flux1-dev", 14, 25.0, 0.35),
    "controlnet_depth": ("t2i", "flux1-dev+cn-depth", 16, 42.0, 0.35),
    "qwen_image_edit": ("image_edit", "qwen-image-edit", 10, 29.0, 0.35),
    "wan22_i2v": ("i2v", "wan2.2-14b-i2v", 24, 525.0, 0.4),
    "ltx2_i2v": ("i2v", "ltx-2", 40, 192.0, 0.4),
    "svi_i2v": ("i2v", "svi", 20, 371.0, 0.4),
    "rife_interp": ("interpolate", "rife-4.7", 6, 55.0, 0.4),
    "esrgan_upscale": ("upscale", "realesrgan-x4", 6, 78.0, 0.4),
}
LOAD_S = {
    "flux1-dev": 35.0,
    "qwen-image-edit": 30.0,
    "flux1-dev+cn-depth": 45.0,
    "wan2.2-14b-i2v": 70.0,
    "ltx-2": 60.0,
    "svi": 50.0,
    "rife-4.7": 5.0,
    "realesrgan-x4": 4.0,
}
I2V = ("wan22_i2v", "ltx2_i2v", "svi_i2v")
# VRAM mixes: GB -> weight.
FLEETS = {
    "consumer": {16: 3, 24: 6, 48: 1},
    "shipped-like": {16: 2, 24: 8, 48: 4, 80: 2},
    "datacenter": {48: 3, 80: 2},
    "mixed": {16: 2, 24: 3, 48: 2, 80: 1},
    "big-cards-few": {24: 6, 80: 1},
}


def generate(seed: int) -> tuple[str, dict]:
    """One trace in bench_farm's format (plus a description), fully determined by `seed`."""
    rng = random.Random(seed)
    fleet_name = rng.choice(sorted(FLEETS))
    size = rng.choice((4, 6, 8, 12, 16, 24, 32))
    mix = FLEETS[fleet_name]
    vrams = sorted(rng.choices(list(mix), weights=list(mix.values()), k=size))
    if max(vrams) < 24:
        vrams[-1] = 24  # at least one card runs i2v
    agents = [{"id": f"A{i:02d}", "vram_gb": v, "loaded_model": None} for i, v in enumerate(vrams)]
    # The recipe mix: which i2v models, how many stills, how much goes on to interpolation and upscale.
    i2v_models = [w for w in I2V if WORKFLOWS[w][2] <= max(vrams)]
    i2v_weights = [rng.uniform(0.2, 1.0) for _ in i2v_models]
    video_share = rng.uniform(0.3, 0.9)
    interp_share = rng.uniform(0.4, 1.0)
    upscale_share = rng.uniform(0.3, 1.0)
    edit_share = rng.uniform(0.0, 0.5)
    depth_share = rng.uniform(0.0, 0.5)
    candidates = rng.choice(((1, 3), (2, 5), (3, 8)))
    rush_share = rng.uniform(0.0, 0.3)
    low_share = rng.uniform(0.0, 0.3)
    retake_share = rng.uniform(0.0, 0.4)
    speed = {m: rng.uniform(0.6, 1.5) for m in LOAD_S}  # this studio's settings: frames, steps
    load_scale = rng.uniform(0.5, 2.0)
    # Enough work for one and a half to three hours of the fleet: a farm's queue on a busy day, many times
    # the longest job (a trace as short as a few i2v jobs measures job granularity, not the scheduler).
    shots = max(6, int(size * rng.uniform(5.0, 10.0) * (1.1 - video_share / 2)))
    jobs: list[dict] = []

    def add(workflow: str, shot: str, priority: int, depends: list[str], submit: float) -> str:
        kind, model, vram, mean, spread = WORKFLOWS[workflow]
        compute = max(3.0, rng.gauss(mean * speed[model], mean * speed[model] * spread / 2))
        job_id = f"J{len(jobs):05d}"
        jobs.append(
            {
                "id": job_id,
                "workflow": workflow,
                "type": kind,
                "min_vram_gb": vram,
                "model": model,
                "compute_s": round(compute, 1),
                "priority": priority,
                "depends_on": depends,
                "shot": shot,
                "submit_s": round(submit, 1),
            }
        )
        return job_id

    def chain(shot: str, priority: int, submit: float) -> None:
        first = "controlnet_depth" if rng.random() < depth_share else "flux_t2i"
        frame = add(first, shot, 50, [], submit)
        if rng.random() < edit_share:
            frame = add("qwen_image_edit", shot, 50, [frame], submit)
        video = add(rng.choices(i2v_models, weights=i2v_weights)[0], shot, priority, [frame], submit)
        if rng.random() < interp_share:
            video = add("rife_interp", shot, 50, [video], submit)
            if rng.random() < upscale_share:
                add("esrgan_upscale", shot, 50, [video], submit)

    for n in range(shots):
        shot = f"SHT_{(n + 1) * 10:04d}"
        roll = rng.random()
        priority = 70 if roll < rush_share else 40 if roll < rush_share + low_share else 50
        for _ in range(rng.randint(*candidates)):
            add("flux_t2i", shot, 50, [], 0.0)
        if rng.random() < video_share:
            chain(shot, priority, 0.0)
    busy = sum(j["compute_s"] for j in jobs) / size
    horizon = busy * 0.8
    for _ in range(int(shots * retake_share)):  # retakes: arrive while the farm works
        shot = f"SHT_{(rng.randrange(shots) + 1) * 10:04d}"
        at = rng.uniform(0.05, 1.0) * horizon
        # Stills arrive until near the end; a video retake only in the first half (one arriving at the end
        # ends the run whatever the schedule: no online scheduler can start it sooner).
        if rng.random() < 0.5 or at > horizon / 2:
            add(rng.choice(("flux_t2i", "controlnet_depth")), shot, 50, [], at)
        else:
            chain(shot, rng.choice((50, 50, 70)), at)
    trace = {
        "seed": seed,
        "agents": agents,
        "jobs": jobs,
        "model_load_s": {m: round(s * load_scale, 1) for m, s in LOAD_S.items()},
    }
    described = (
        f"{fleet_name:13} {size:2} agents, {len(jobs):4} jobs, video {video_share:.0%}, "
        f"rush {rush_share:.0%}, retakes {retake_share:.0%}, loads x{load_scale:.1f}"
    )
    return described, trace


def lower_bound_with_loads(trace: dict) -> float:
    """bench_farm's bound, tightened by the model loads no schedule can avoid (see the module text)."""
    jobs = {j["id"]: j for j in trace["jobs"]}
    agents = trace["agents"]
    load_s = {m: float(s) for m, s in trace["model_load_s"].items()}
    preloaded = {a["loaded_model"] for a in agents if a["loaded_model"]}

    def first_load(model: str) -> float:
        return 0.0 if model in preloaded else load_s.get(model, 0.0)

    def work_bound(selected: list[dict], able: list[dict]) -> float:
        """(compute + one load of each model) / k, lowest over the k able agents that could be in use."""
        if not selected:
            return 0.0
        compute = sum(j["compute_s"] for j in selected)
        models = {j["model"] for j in selected}
        once = sum(first_load(m) for m in models)
        unloaded = sum(1 for a in able if not a["loaded_model"])
        cheapest = min(load_s.get(m, 0.0) for m in models)
        best = float("inf")
        for k in range(1, len(able) + 1):
            # Each of the k agents in use loads at least once if it starts empty; the distinct models need
            # at least one load each. Agents beyond the number of models still pay the cheapest load.
            extra = max(0, min(k, unloaded) - len(models)) * cheapest
            best = min(best, (compute + once + extra) / k)
        return best

    @cache
    def release(job_id: str) -> float:
        """The earliest a job can start: submitted, its parents done, its model loadable."""
        job = jobs[job_id]
        return max([job["submit_s"], first_load(job["model"])] + [finish(d) for d in job["depends_on"]])

    @cache
    def finish(job_id: str) -> float:
        return release(job_id) + jobs[job_id]["compute_s"]

    bound = max(finish(j) for j in jobs)
    for vram in {0} | {j["min_vram_gb"] for j in jobs.values()}:
        able = [a for a in agents if a["vram_gb"] >= vram]
        tier = sorted((j for j in jobs.values() if j["min_vram_gb"] >= vram), key=lambda j: release(j["id"]))
        # The tier's able agents are busy from the k-th release on with at least the work released then.
        # (The loads counted in work_bound are those that jobs' models need, released or not.)
        # From time 0 every agent starts empty: the tier's work plus its unavoidable loads.
        bound = max(bound, work_bound(tier, able))
        # From a later release on, agents may have loaded those models before it (an idle agent preloads):
        # only the compute counts there. (Counting the loads after t too made the bound invalid: one
        # generated trace, seed 18, ran in 0.997 x that bound.)
        for k in range(1, len(tier), max(1, len(tier) // 50)):
            rest = sum(j["compute_s"] for j in tier[k:])
            bound = max(bound, release(tier[k]["id"]) + rest / len(able))
    return max(bound, lower_bound(trace))


def search(trace: dict, tries: int, seed: int) -> float:
    """The shortest makespan found by a randomised search around the scheduler: in each try, every choice
    is the scheduler's with probability 1 - p, else the longest runnable job (critical path first) of a
    model picked at random among those the agent can run; p from 0.02 to 0.3. An upper bound on the
    optimum (these are real schedules of the same simulation), so `scheduler / best found` is a lower
    bound on how far the scheduler is from optimal, and `best found / LB+` how loose the bound is at
    most."""
    best = simulate(trace, choose, "job").makespan
    for n in range(tries):
        rng = random.Random(seed * 7919 + n)
        p = 0.02 + 0.28 * n / max(1, tries - 1)

        def perturbed(agent: AgentView, jobs: list[JobView], farm: FarmView, rng=rng, p=p) -> JobView | None:
            if rng.random() >= p:
                return choose(agent, jobs, farm)
            by_model: dict[str | None, list[JobView]] = defaultdict(list)
            for job in jobs:
                if fits(agent, job):
                    by_model[job.model].append(job)
            if not by_model:
                return None
            model = rng.choice(sorted(by_model, key=str))
            return max(by_model[model], key=lambda j: (j.estimate_s + j.downstream_s, j.id))

        best = min(best, simulate(trace, perturbed, "job").makespan)
    return best


def gap_parts(trace: dict, result: Result, packed: Bound, bound: float) -> str:
    """Where the scheduler's makespan goes beyond the bound on the agents of the bound's binding VRAM tier.
    When the binding check is the tier's energy from time 0 (k agents: k x bound = the tier's compute +
    the loads the bound counts), k x (makespan - bound) = the loads made beyond those counted + the
    lower-tier work these agents ran + their idle gaps inside the run + their idle time after their last
    job; the parts are printed per agent, so they add up to makespan - bound."""
    jobs = {j["id"]: j for j in trace["jobs"]}
    tier_gb = packed.tier_gb
    able = {a["id"] for a in trace["agents"] if a["vram_gb"] >= tier_gb}
    load_s = trace["model_load_s"]
    loads = lower = gaps = tail = 0.0
    for agent in able:
        runs = sorted((r for r in result.runs if r[0] == agent), key=lambda r: r[3])
        end = 0.0
        for _, job_id, _, start, finish, switched in runs:
            job = jobs[job_id]
            gaps += start - end
            loads += load_s[job["model"]] if switched else 0.0
            lower += job["compute_s"] if job["min_vram_gb"] < tier_gb else 0.0
            end = finish
        tail += result.makespan - end
    k = len(able)
    return (
        f"binding: {packed.binding} of the {tier_gb:.0f}+ GB tier ({k} agents) from t={packed.t:.0f} s; "
        f"per agent: loads beyond the bound's {(loads - packed.loads_s) / k:.0f} s, lower-tier work "
        f"{lower / k:.0f} s, idle gaps {gaps / k:.0f} s, idle at the end {tail / k:.0f} s; "
        f"makespan - bound {result.makespan - bound:.0f} s"
    )


def run(trace: dict) -> dict[str, float | str]:
    packed = lower_bound_packed(trace)
    bound, tight = lower_bound(trace), max(lower_bound_with_loads(trace), packed.value)
    row: dict[str, float | str] = {"LB": bound, "LB++": tight}
    policies = (("job", choose, "job"), ("workflow", choose, "workflow"), ("fifo", fifo, "job"))
    for name, chooser, kind in policies:
        result = simulate(trace, chooser, kind)
        row[name] = result.makespan
        if name == "job":
            row["parts"] = gap_parts(trace, result, packed, tight)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traces", type=int, default=12)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--save", type=Path, help="write the generated traces into this folder")
    parser.add_argument(
        "--parts", action="store_true", help="print where each trace's gap to the bound goes (see gap_parts)"
    )
    parser.add_argument(
        "--search", type=int, default=0, help="tries of the randomised search on the 3 worst traces (0: none)"
    )
    args = parser.parse_args()
    shipped = json.loads(TRACE.read_text(encoding="utf-8"))
    rows: dict[str, list[float]] = defaultdict(list)
    header = (
        f"{'trace':54} {'LB':>6} {'LB++':>6}  {'job/LB':>6} {'job/LB++':>8} {'wf/LB++':>7} {'FIFO/LB++':>9}"
    )
    print(header)
    cases = [("shipped (scripts/data/farm_trace.json)", shipped)]
    cases += [generate(args.seed * 1000 + n) for n in range(args.traces)]
    ratios: list[tuple[float, int, dict[str, float]]] = []
    for n, (described, trace) in enumerate(cases):
        if args.save and n:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"trace_{n:02d}.json").write_text(json.dumps(trace), encoding="utf-8")
        r = run(trace)
        print(
            f"{described:54} {r['LB']:6.0f} {r['LB++']:6.0f}  {r['job'] / r['LB']:6.3f} "
            f"{r['job'] / r['LB++']:8.3f} {r['workflow'] / r['LB++']:7.3f} {r['fifo'] / r['LB++']:9.3f}",
            flush=True,
        )
        if args.parts:
            print(f"    {r['parts']}")
        if n:  # the generated traces only
            ratios.append((r["job"] / r["LB++"], n, r))
            rows["job/LB"].append(r["job"] / r["LB"])
            rows["job/LB++"].append(r["job"] / r["LB++"])
            rows["workflow/LB++"].append(r["workflow"] / r["LB++"])
            rows["fifo/LB++"].append(r["fifo"] / r["LB++"])
    print(f"\n{args.traces} generated traces (seed {args.seed}):")
    for name, values in rows.items():
        print(f"  {name:14} worst {max(values):.3f}   mean {statistics.mean(values):.3f}")
    if args.search:
        print(f"\nrandomised search ({args.search} tries) on the 3 worst traces:")
        for _, n, r in sorted(ratios, reverse=True)[:3]:
            best = search(cases[n][1], args.search, args.seed)
            print(
                f"  trace {n:2}: scheduler {r['job']:6.0f} s, best found {best:6.0f} s = "
                f"{best / r['LB++']:.3f} x LB++; scheduler / best found {r['job'] / best:.3f}"
            )


if __name__ == "__main__":
    main()
