"""Split gangs (span_sites, allow_mixed_types): the schedule MILP equals brute force on tiny
random instances (Hypothesis).

One job that may split its gang (and, at random, one more GPU type, a power cap on one type,
maintenance, a due time, a value, a restart cost, a migration cost, negative prices) over 1-2
sites of 1-GPU nodes. The brute force
enumerates, per period, no row or every way of holding the job's GPUs over its pools in one
power mode (whole on one pool, or split as its flags allow) within capacity, drops the plans
that run past the finish or leave a required job unfinished (rule 5, by the rule's own
arithmetic), and lets the independent verifier value and judge the rest: the best valid value
must be the MILP's. The existing brute force (test_schedule_brute.py) covers whole gangs of one GPU type.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, event, example, given, reject, settings
from hypothesis import strategies as st

import gpuplan as gp
from gpuplan.errors import InputError
from gpuplan.instance.io import from_dict
from gpuplan.verify.schedule.rules import schedule_violations
from gpuplan.verify.schedule.value import evaluate, schedule_facts

PLAN_LIMIT = 300     # plans the verifier values, one evaluate (some 60 ms) each
OBJECTIVES = ("cost", "value")
CAP = {"gpu_type": "g", "id": "cap", "power_fraction": 0.6, "throughput_fraction": 0.85}


@st.composite
def split_schedules(draw):
    periods = draw(st.integers(2, 3))
    sites = ["a", "b"][:draw(st.sampled_from([1, 2, 2]))]
    types = ["g", "h"][:draw(st.sampled_from([1, 2, 2]))]
    nodes = [0, 1, 1, 2] if draw(st.booleans()) else [1, 2]   # a 3-GPU gang fits no pool whole: it splits
    capacity = [{"site": s, "gpu_type": g, "nodes": draw(st.sampled_from(nodes)), "gpus_per_node": 1}
                for s in sites for g in types]
    if draw(st.booleans()):   # maintenance in one period
        row = draw(st.sampled_from(capacity))
        capacity.append(dict(row, period=draw(st.integers(0, periods - 1)), nodes=draw(st.integers(0, 1))))
    options = [{"gpu_type": "g"}] + ([{"gpu_type": "h", "throughput": draw(st.sampled_from([0.5, 1.0, 1.5]))}]
                                     if len(types) > 1 else [])
    span = draw(st.booleans())
    job = {"id": "j", "gpus": draw(st.sampled_from([2, 3, 3])), "gpu_options": options,
           "migratable": span or draw(st.booleans()),
           "work_gpu_hours": draw(st.sampled_from([1.0, 1.9, 2.0, 2.85, 3.0, 3.8, 4.0, 5.6])),
           "span_sites": span, "allow_mixed_types": draw(st.booleans()),
           "migration_cost": 0.0 if span else draw(st.sampled_from([0.0, 1.0])),
           "required": draw(st.sampled_from([True, True, False])), "value": draw(st.sampled_from([0.0, 5.0, 50.0])),
           "restart_cost": draw(st.sampled_from([0.0, 1.0]))}
    if draw(st.booleans()):
        job.update(due_h=float(draw(st.integers(1, periods))), tardiness_cost_per_h=draw(st.sampled_from([1.0, 10.0])))
    series = [{"site": s, "period": t, "price_per_kwh": draw(st.sampled_from([-1, 0, 1, 2, 3]))}
              for s in sites for t in range(periods)]
    return {
        "schema_version": 1, "name": "split-tiny",
        "gpu_types": [{"id": "g", "memory_gb": 80, "power_w": 1000.0, "idle_power_w": draw(st.sampled_from([0.0, 100.0]))},
                      {"id": "h", "memory_gb": 80, "power_w": 500.0, "idle_power_w": 50.0}][:len(types)],
        "sites": [{"id": s} for s in sites], "time": {"periods": periods, "period_hours": 1.0},
        "site_series": series, "capacity": capacity, "power_modes": [CAP] if draw(st.booleans()) else [],
        "training_jobs": [job],
    }


def gpus_available(instance, site: str, gpu_type: str, period: int) -> int:
    rows = [r for r in instance.capacity if (r.site, r.gpu_type) == (site, gpu_type)]
    own = [r for r in rows if r.period == period]
    row = own[0] if own else next((r for r in rows if r.period is None), None)
    return row.nodes * row.gpus_per_node if row else 0


def period_choices(instance, t: int) -> list[list[dict]]:
    """The job's ways to run in period t (rows), within capacity and the split rules; [] = no row."""
    job = instance.training_jobs[0]
    n = job.gpus
    modes = {"g": ["full"] + [m.id for m in instance.power_modes], "h": ["full"]}
    pools = [(s.id, o.gpu_type) for s in instance.sites for o in job.gpu_options]
    ways = [[]]
    for mode in ("full", "cap"):
        usable = [p for p in pools if mode in modes[p[1]]]
        room = [gpus_available(instance, s, g, t) for s, g in usable]
        for counts in itertools.product(*[range(min(r, n) + 1) for r in room]):
            if sum(counts) != n:
                continue
            used = [p for p, c in zip(usable, counts) if c]
            if len({s for s, _ in used}) > 1 and not job.span_sites:
                continue
            if len({g for _, g in used}) > 1 and not job.allow_mixed_types:
                continue
            ways.append([{"job": "j", "site": s, "gpu_type": g, "period": t, "gpus": c, "power_mode": mode}
                         for (s, g), c in zip(usable, counts) if c])
    return ways


def period_work(instance, rows: list[dict]) -> float:
    """The rules' work of one period's rows (models/schedule.md rule 5), for screening only."""
    job, options = instance.training_jobs[0], instance.schedule_options
    speed = {o.gpu_type: o.throughput for o in job.gpu_options}
    beta = {m.id: m.throughput_fraction for m in instance.power_modes}
    gang = sum(r["gpus"] * speed[r["gpu_type"]] * beta.get(r["power_mode"], 1.0) for r in rows)
    spans, mixes = len({r["site"] for r in rows}) > 1, len({r["gpu_type"] for r in rows}) > 1
    return gang * (1 - options.cross_site_penalty * spans - options.mixed_type_penalty * mixes)


def screened(instance, per_period):
    """The plans without rows after the job's finish and, for a required job, that finish: the
    rest would fail rule 5, so the verifier need not value them."""
    job = instance.training_jobs[0]
    for plan in itertools.product(*per_period):
        done, after = 0.0, False
        for rows in plan:
            if rows and done >= job.work_gpu_hours - 1e-6:
                after = True
            done += period_work(instance, rows)
        if not after and (done >= job.work_gpu_hours - 1e-6 or not job.required):
            yield plan


def brute_force(instance) -> dict[str, float] | None:
    facts = schedule_facts(instance)
    per_period = [period_choices(instance, t) for t in range(instance.time.periods)]
    plans = list(screened(instance, per_period))
    if len(plans) > PLAN_LIMIT:
        reject()
    best: dict[str, float] = {}
    for plan in plans:
        rows = [row for rows in plan for row in rows]
        ev = evaluate(facts, rows, [], [])
        if schedule_violations(facts, ev):
            continue
        for objective, better in (("cost", min), ("value", max)):
            value = ev.objective_value(objective)
            best[objective] = better(best.get(objective, value), value)
    return best or None


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


# a 3-GPU gang that fits no pool whole: it finishes only split, over sites and types
SPANS_AND_MIXES = {
    "schema_version": 1, "name": "split-tiny",
    "gpu_types": [{"id": "g", "memory_gb": 80, "power_w": 1000.0, "idle_power_w": 0.0},
                  {"id": "h", "memory_gb": 80, "power_w": 500.0, "idle_power_w": 50.0}],
    "sites": [{"id": "a"}, {"id": "b"}], "time": {"periods": 2, "period_hours": 1.0},
    "site_series": [{"site": s, "period": t, "price_per_kwh": p} for (s, t), p in
                    zip(itertools.product("ab", range(2)), [1, 3, 2, 1])],
    "capacity": [{"site": "a", "gpu_type": "g", "nodes": 2, "gpus_per_node": 1},
                 {"site": "b", "gpu_type": "g", "nodes": 1, "gpus_per_node": 1},
                 {"site": "b", "gpu_type": "h", "nodes": 1, "gpus_per_node": 1}],
    "training_jobs": [{"id": "j", "gpus": 3, "gpu_options": [{"gpu_type": "g"}, {"gpu_type": "h", "throughput": 0.5}],
                       "work_gpu_hours": 5.6, "migratable": True, "span_sites": True, "allow_mixed_types": True}],
}


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@example(SPANS_AND_MIXES)
@given(split_schedules())
def test_milp_equals_brute_force_with_split_gangs(data):
    try:
        instance = from_dict(data)
    except InputError:
        reject()
    best = brute_force(instance)
    for objective in OBJECTIVES:
        result = gp.solve(instance, problem="schedule", objective=objective)
        if best is None:
            assert result.status == "infeasible", (objective, result.status, data)
            continue
        assert result.status == "optimal", (objective, result.status, result.message, data)
        assert close(result.objective, best[objective]), (objective, result.objective, best[objective], data)
        rows = result.placements
        event(f"{objective}: the optimum " + ("splits" if rows.duplicated(["job", "period"]).any() else
                                              "holds whole gangs" if len(rows) else "does not run the job"))
