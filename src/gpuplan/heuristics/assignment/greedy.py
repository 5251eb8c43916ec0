"""Greedy best-fit: the baseline every result is compared with, and the MIP start.

It works on concrete nodes. Running jobs are all kept; then required jobs, then jobs of
tenants below their floor, then the rest in the objective's order (value per GPU for
throughput, largest first for utilization, the tenant furthest below its entitlement for
fairness; the cost objective adds nothing that is not required). Each job takes the option
with the best value; among equal values the tightest fit: the fullest node that still has
room, or the scope domain with the fewest free whole nodes that suffice.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from itertools import islice
from dataclasses import dataclass, field

from ...index.assignment import AssignmentIndex, PackPair, accounts_cpu, tenant_entitlements
from ...index.node_grant import NodeGrant, current_rows
from .state import ClusterState


@dataclass
class GreedyOutcome:
    rows: list[NodeGrant]
    complete: bool             # required jobs placed and floors met
    message: str = ""


@dataclass
class _Option:
    value: float               # higher is better
    fit: float                 # lower is tighter
    rows: list[NodeGrant]
    gpus: int
    pools: frozenset = frozenset()   # where it puts the job (to match the LP's choice)
    packed: bool = False             # inside one node (else whole nodes)
    stays: bool = False              # a running job back where it was


@dataclass
class LpGuide:
    """The LP relaxation's values: how much of each job runs, and where.

    The guided greedy places jobs in the order of how much the LP runs them and takes the
    option the LP favours; on assignment problems whose LP is nearly integral this lands
    within a fraction of a percent of the LP bound."""

    keep: dict[str, float] = field(default_factory=dict)                  # running job -> keep
    pack: dict[tuple[str, str], float] = field(default_factory=dict)      # (group, class) -> members
    node: dict[tuple[str, str], float] = field(default_factory=dict)      # (group, node) -> members
    span: dict[tuple[str, str], float] = field(default_factory=dict)      # (job, unit) -> nodes
    spanned: dict[str, float] = field(default_factory=dict)

    def placed(self, idx, job_id: str) -> float:
        """Fraction of the job the LP runs (a group's members share its total)."""
        if not hasattr(self, "_group_total"):
            self._group_total = defaultdict(float)
            for (g, _), v in self.pack.items():
                self._group_total[g] += v
        group = idx.group_of.get(job_id)
        packed = self._group_total[group] / idx.groups[group].count if group in idx.groups else 0.0
        return packed + self.spanned.get(job_id, 0.0) + self.keep.get(job_id, 0.0)


def greedy(idx: AssignmentIndex, objective: str, guide: LpGuide | None = None) -> GreedyOutcome:
    """Best-fit greedy; with an LP ``guide`` it follows the LP's order and choices instead."""
    instance = idx.instance
    tenants = {t.id: t for t in instance.tenants}
    held = defaultdict(float)
    kept = _kept_within_caps(idx, [r for r in sorted(idx.running) if _keeps(idx, r, guide)], tenants, held)
    rows: list[NodeGrant] = [row for r in kept for row in current_rows(idx.running[r])]
    state = ClusterState(idx, list(rows))
    pack_of = {j: idx.pack_pairs_of_job(j) for j in idx.jobs}
    kept_set = set(kept)
    waiting = [j for j in idx.jobs if j not in kept_set and (j not in idx.running or idx.running[j].migratable)]
    placed: set[str] = set(kept)
    budget = defaultdict(float, guide.pack) if guide else None

    def preference(job_id: str, option: _Option):
        if guide is None:
            return (option.value, -option.fit)
        if option.stays:
            lp = guide.keep.get(job_id, 0.0)
        elif option.packed:
            lp = budget[idx.group_of[job_id], idx.pools[next(iter(option.pools))].gpu_class]
        else:
            lp = sum(guide.span.get((job_id, u), 0.0) for u in idx.span[job_id].units
                     if option.pools.intersection(idx.units[u].pools))
        return (lp, option.value, -option.fit)

    node_budget = _node_budgets(guide) if guide is not None else {}

    def try_place(job_id: str) -> bool:
        job = idx.instance_job(job_id)
        cap = tenants[job.tenant].max_gpus
        on_node = _guided_node_option(idx, state, job, node_budget.get(idx.group_of.get(job_id)), objective)
        candidates = [on_node] if on_node is not None else job_options(idx, state, job_id, pack_of[job_id], objective)
        options = [o for o in candidates if cap is None or held[job.tenant] + o.gpus <= cap]
        if not options and on_node is not None:
            options = [o for o in job_options(idx, state, job_id, pack_of[job_id], objective)
                       if cap is None or held[job.tenant] + o.gpus <= cap]
        if not options:
            return False
        best = max(options, key=lambda o: preference(job_id, o))
        for row in best.rows:
            state.take(row)
        rows.extend(best.rows)
        held[job.tenant] += best.gpus
        placed.add(job_id)
        if budget is not None and best.packed and not best.stays:
            budget[idx.group_of.get(job_id), idx.pools[next(iter(best.pools))].gpu_class] -= 1
            nodes = node_budget.get(idx.group_of.get(job_id))
            if nodes is not None and best.rows[0].node in nodes:
                nodes[best.rows[0].node] -= 1
        return True

    order = _job_order(idx, waiting, pack_of, objective)
    if guide is not None:
        rank = {j: i for i, j in enumerate(order)}
        order.sort(key=lambda j: (-round(guide.placed(idx, j), 6), rank[j]))
    must = [j for j in order if _must_run(idx, j)]
    # Plain: the jobs with the most to lose first. Guided: the jobs the LP is surest about
    # first (its integral choices), so the few it splits take what is left.
    for j in (_certainty_order(idx, must, guide) if guide is not None else _regret_order(idx, must, pack_of, objective)):
        try_place(j)
    floors = {t: min(tenant.guaranteed_gpus, idx.demand[t]) for t, tenant in tenants.items()}
    for j in order:
        tenant = idx.instance_job(j).tenant
        if j not in placed and held[tenant] < floors[tenant]:
            try_place(j)
    if objective == "fairness":
        _fill_fairly(idx, order, placed, held, try_place)
    elif objective != "cost":
        for j in order:
            if j not in placed:
                try_place(j)
    return _outcome(idx, rows, placed, held, floors)


def _node_budgets(guide: LpGuide) -> dict[str, dict[str, float]]:
    """Per group, the nodes the LP runs its members on and how many (assign mode)."""
    budgets: dict[str, dict[str, float]] = defaultdict(dict)
    for (g, n), value in guide.node.items():
        if value > 1e-6:
            budgets[g][n] = value
    return budgets


def _guided_node_option(idx, state, job, budgets: dict[str, float] | None, objective) -> _Option | None:
    """In assign mode, the node the LP gives the job's group the most of, if the job fits there."""
    if not budgets:
        return None
    for node in sorted(budgets, key=lambda n: (-budgets[n], n)):
        if budgets[node] <= 1e-6:
            break
        info = idx.nodes[node]
        if job.fractional:
            index = state.share_on(node, job.gpu_share_milli, job.cpu_milli, job.host_memory_mib)
            if index is None:
                continue
            row, held = NodeGrant(job.id, node, 1, index), job.gpu_share_milli / 1000
        else:
            size = 0 if job.cpu_only else job.gpus_on(info.gpu_type)
            if not state.fits(node, size, job.cpu_milli, job.host_memory_mib):
                continue
            row, held = NodeGrant(job.id, node, size), size
        option = job.option(info.gpu_type) if not job.cpu_only else None
        value = _option_value(objective, job.priority, option.throughput if option else 0.0,
                              option.cost_per_hour if option else 0.0, held)
        return _Option(value, 0.0, [row], held, frozenset([info.pool]), packed=True)
    return None


def _kept_within_caps(idx, keeping: list[str], tenants: dict, held: dict) -> list[str]:
    """The running jobs to keep, filling ``held``: those that may not stop always, then the
    others while their tenant stays within its cap (the rest may still be placed anew)."""
    kept = []
    for r in sorted(keeping, key=lambda r: idx.running[r].preemptible):  # those that may not stop first
        run, tenant = idx.running[r], idx.instance_job(r).tenant
        cap = tenants[tenant].max_gpus
        if not run.preemptible or cap is None or held[tenant] + run.gpus <= cap + 1e-9:
            kept.append(r)
            held[tenant] += run.gpus
    return kept


def _keeps(idx, r: str, guide: LpGuide | None) -> bool:
    """The plain greedy keeps every running job; guided, it keeps those the LP keeps."""
    run = idx.running[r]
    if guide is None or (not run.migratable and not run.preemptible):
        return True
    return guide.keep.get(r, 1.0) >= 0.5


def _outcome(idx, rows, placed, held, floors) -> GreedyOutcome:
    must_run = [j for j, run in idx.running.items() if not run.preemptible]
    missing = [job.id for job in idx.instance.jobs if job.required and job.id not in placed]
    missing += [j for j in must_run if j not in placed and j not in missing]
    short = [t for t, floor in floors.items() if held[t] < floor]
    caps = {t.id: t.max_gpus for t in idx.instance.tenants}
    over = [t for t, gpus in held.items() if caps.get(t) is not None and gpus > caps[t] + 1e-9]
    problems = []
    if over:  # only running jobs that may not stop can put a tenant there
        problems.append(f"running jobs that may not stop hold more than the cap of tenant(s) {', '.join(over[:5])}")
    if missing:
        problems.append(f"could not place required job(s) {', '.join(missing[:5])}")
    if short:
        problems.append(f"could not meet the floor of tenant(s) {', '.join(short[:5])}")
    return GreedyOutcome(rows, complete=not problems, message="; ".join(problems))


def _fill_fairly(idx, order, placed, held, try_place) -> None:
    entitlement = tenant_entitlements(idx.instance, idx)
    queues = defaultdict(deque)
    for j in order:
        if j not in placed:
            queues[idx.instance_job(j).tenant].append(j)
    active = {t for t in queues if t in entitlement}
    while active:
        tenant = min(active, key=lambda t: (held[t] / entitlement[t], t))
        while queues[tenant] and not try_place(queues[tenant][0]):
            queues[tenant].popleft()
        if not queues[tenant]:
            active.discard(tenant)
        else:
            queues[tenant].popleft()


def _job_order(idx, jobs, pack_of, objective) -> list[str]:
    def smallest(j):
        job = idx.instance_job(j)
        if job.fractional:
            return job.gpu_share_milli / 1000
        sizes = [p.size for p in pack_of[j]]
        if j in idx.span:
            sizes += list(idx.span[j].need.values())
        return min(sizes) if sizes else 0

    def best_throughput(j):
        return max((option.throughput for option in idx.instance_job(j).gpu_options), default=0.0)

    if objective == "utilization":
        key = lambda j: (-smallest(j), j)  # noqa: E731 - first-fit decreasing
    elif objective == "cost":
        key = lambda j: (-smallest(j), j)  # noqa: E731
    else:
        key = lambda j: (-idx.instance_job(j).priority * best_throughput(j) / max(smallest(j), 1e-3), j)  # noqa: E731
    return sorted(jobs, key=key)


def _certainty_order(idx, jobs, guide: LpGuide) -> list[str]:
    """Jobs by the largest single share of them the LP puts anywhere (1 = integral)."""
    best: dict[str, float] = defaultdict(float)
    for (g, _), value in guide.pack.items():
        best[g] = max(best[g], value / idx.groups[g].count)
    for j, value in guide.spanned.items():
        best[j] = max(best[j], value)
    for r, value in guide.keep.items():
        best[r] = max(best[r], value)
    return sorted(jobs, key=lambda j: (-round(best[idx.group_of.get(j, j)], 6), j))


def _regret_order(idx, jobs, pack_of, objective) -> list[str]:
    """Required jobs with the most to lose first: the gap between their best and second-best
    option (a job with one option has everything to lose), as in Martello and Toth's GAP
    heuristic; big jobs break ties."""
    job = idx.instance_job

    def values(j):
        out = [_option_value(objective, job(j).priority, p.throughput, p.cost, p.size) for p in pack_of[j]]
        if j in idx.span:
            option = job(j).option
            out += [_option_value(objective, job(j).priority, option(g).throughput, option(g).cost_per_hour, n)
                    for g, n in idx.span[j].need.items()]
        return sorted(out, reverse=True)

    def key(j):
        v = values(j)
        regret = v[0] - v[1] if len(v) > 1 else float("inf")
        return (-regret, j)

    return sorted(jobs, key=key)


# ---------------------------------------------------------------- options of one job


def _option_value(objective: str, priority: float, throughput: float, cost: float, gpus: int) -> float:
    if objective == "throughput":
        return priority * throughput
    if objective == "cost":
        return -cost
    return gpus  # utilization and fairness fill GPUs


def job_options(idx, state, job_id: str, pairs: list[PackPair], objective: str) -> list[_Option]:
    job = idx.instance_job(job_id)
    options = []
    for pair in pairs:
        pools = [k for k in idx.classes[pair.gpu_class].pools if not job.cpu_only or accounts_cpu(idx.pools[k], idx.nodes)]
        if job.fractional:
            found = state.best_share(pools, job.gpu_share_milli, job.cpu_milli, job.host_memory_mib)
            if found is None:
                continue
            node, index = found
            row, held, fit = NodeGrant(job_id, node, 1, index), job.gpu_share_milli / 1000, 0
        else:
            node = state.best_fit(pools, pair.size, job.cpu_milli, job.host_memory_mib)
            if node is None:
                continue
            row, held, fit = NodeGrant(job_id, node, pair.size), pair.size, state.free[node] - pair.size
        value = _option_value(objective, job.priority, pair.throughput, pair.cost, held)
        options.append(_Option(value, fit, [row], held, frozenset([idx.nodes[node].pool]), packed=True))
    if job_id in idx.span:
        options.extend(_span_options(idx, state, job, objective))
    stay = _stay_option(idx, state, job, objective)
    if stay is not None:
        options.append(stay)
    return options


def _must_run(idx, job_id: str) -> bool:
    run = idx.running.get(job_id)
    return idx.instance_job(job_id).required or (run is not None and not run.preemptible)


def _stay_option(idx, state, job, objective) -> _Option | None:
    """A running job that was let go may still go back where it was, if that room is free."""
    run = idx.running.get(job.id)
    if run is None or not still_fits(state, job, run):
        return None
    value = _option_value(objective, job.priority, run.throughput, run.cost, run.gpus)
    return _Option(value + job.migration_cost * (objective == "throughput"), 0.0, current_rows(run), run.gpus,
                   frozenset(idx.nodes[n].pool for n in run.rows), stays=True)


def still_fits(state, job, run) -> bool:
    """A running job's current rows still fit what is free."""
    for row in current_rows(run):
        if not state.has_room(row.node, job.cpu_milli, job.host_memory_mib):
            return False
        if row.gpu_index is not None:
            used = state.shared[state.idx.nodes[row.node].pool].get((row.node, row.gpu_index))
            if (used is None and state.free[row.node] < 1) or (used is not None and used + run.share_milli > 1000):
                return False
        elif state.free[row.node] < row.gpus:
            return False
    return True

def _span_options(idx, state, job, objective) -> list[_Option]:
    span = idx.span[job.id]
    by_domain = defaultdict(list)
    for u in span.units:
        unit = idx.units[u]
        by_domain[unit.pod or unit.site, unit.gpu_type].extend(unit.pools)
        if span.scope == "any":  # one site first: spanning sites loses throughput
            by_domain["*", unit.gpu_type].extend(unit.pools)
    penalty = idx.instance.options.cross_site_penalty
    for (domain, gpu_type), pool_ids in by_domain.items():
        nodes = _cover(state, pool_ids, span.need[gpu_type])
        if nodes is None:
            continue
        option = job.option(gpu_type)
        sites = {idx.nodes[n].site for n in nodes}
        loss = penalty if len(sites) > 1 else 0.0
        throughput = option.throughput * (1 - loss)
        cost = option.cost_per_hour * (1 + loss)
        gpus = sum(idx.nodes[n].gpus for n in nodes)
        spare = sum(len(state.whole_nodes(k)) for k in pool_ids) - len(nodes)
        value = _option_value(objective, job.priority, throughput, cost, gpus)
        yield _Option(value, spare, [NodeGrant(job.id, n, idx.nodes[n].gpus) for n in nodes], gpus,
                      frozenset(idx.nodes[n].pool for n in nodes))


def _cover(state, pool_ids: list[str], need: int) -> list[str] | None:
    """Whole free nodes of ``pool_ids`` (one type) holding ``need`` GPUs with no redundant node:
    the biggest nodes first, lowest names first."""
    sizes = {k: state.idx.pools[k].gpus_per_node for k in pool_ids}
    if sum(len(state.whole_nodes(k)) * sizes[k] for k in pool_ids) < need:
        return None
    chosen, total = [], 0
    for capacity in sorted(set(sizes.values()), reverse=True):
        # Each pool's whole nodes are sorted by name: the ``count`` lowest names of the pools of
        # this size are a merge of each one's first ``count``, not a listing of every node.
        lists = [state.whole_nodes(k) for k in pool_ids if sizes[k] == capacity]
        count = min(sum(len(nodes) for nodes in lists), -(-(need - total) // capacity))
        chosen += [(capacity, n) for n in islice(heapq.merge(*(islice(nodes, count) for nodes in lists)), count)]
        total += count * capacity
        if total >= need:
            break
    if total < need:
        return None
    # drop nodes that became redundant (possible when node sizes differ), smallest first
    for capacity, node in sorted(chosen):
        if total - capacity >= need:
            chosen.remove((capacity, node))
            total -= capacity
    return [node for _, node in chosen]
