"""Jobs on whole nodes: coverage, no redundant node, GPU types, topology scope, losses.

Sets and constraints are created only for the jobs they concern: a job with one eligible type
gets no type variables, a job whose units all lie in one pod gets no pod choice, and losses
exist only for objectives that value jobs (throughput, cost).
"""

from __future__ import annotations


import pyomo.environ as pyo

from .objectives import value_kind
from .running import _loss_weight


def add_spanning(built) -> None:
    m, idx, instance = built.model, built.index, built.instance
    units = idx.units
    span = idx.span
    jobs = {job.id: job for job in instance.jobs}
    kind = value_kind(built.objective)

    m.SPAN_JOBS = pyo.Set(initialize=sorted(span), ordered=True, doc="jobs that may take whole nodes")
    m.SPAN = pyo.Set(dimen=2, ordered=True, initialize=[(j, k) for j in m.SPAN_JOBS for k in span[j].units],
                     doc="eligible (job, unit) pairs for whole nodes: a pool (scope pod) or a site class")
    m.spanned = pyo.Var(m.SPAN_JOBS, domain=pyo.Binary, doc="job runs on whole nodes")
    m.span_nodes = pyo.Var(m.SPAN, domain=pyo.NonNegativeIntegers, bounds=lambda _, j, k: (0, span[j].max_nodes[k]),
                           doc="whole nodes of the unit held by the job")

    # coverage coefficient L_j * C_k / n_jg (an integer because n_jg divides L_j)
    cover = {(j, k): span[j].lcm * units[k].gpus_per_node // span[j].need[units[k].gpu_type] for j, k in m.SPAN}

    def coverage(j):
        return sum(cover[j, k] * m.span_nodes[j, k] for k in span[j].units)

    m.span_cover_min = pyo.Constraint(m.SPAN_JOBS, rule=lambda _, j: coverage(j) >= span[j].lcm * m.spanned[j],
                                      doc="a spanning job has all the GPUs it needs")
    _add_no_redundant_node(m, span, cover, coverage)
    _add_types(m, span, units, cover, kind)
    _add_scope(m, span, units, kind)
    _add_value_terms(built, span, jobs, kind)
    built.add_term("allocated_gpus", sum(units[k].gpus_per_node * m.span_nodes[j, k] for j, k in m.SPAN))


def _add_no_redundant_node(m, span, cover, coverage) -> None:
    uniform = [j for j in m.SPAN_JOBS if len({cover[j, k] for k in span[j].units}) == 1]
    general = [j for j in m.SPAN_JOBS if j not in set(uniform)]

    def uniform_rule(_, j):
        a = cover[j, span[j].units[0]]
        return coverage(j) <= (span[j].lcm + a - 1) * m.spanned[j]

    m.SPAN_UNIFORM_JOBS = pyo.Set(initialize=uniform, ordered=True, doc="spanning jobs whose units share one ratio C/n")
    m.span_cover_max = pyo.Constraint(m.SPAN_UNIFORM_JOBS, rule=uniform_rule, doc="no redundant node")

    m.SPAN_USED = pyo.Set(dimen=2, ordered=True, initialize=[(j, k) for j in general for k in span[j].units],
                          doc="(job, unit) pairs of spanning jobs whose units differ in C/n")
    m.span_used = pyo.Var(m.SPAN_USED, domain=pyo.Binary, doc="the pool gives the job at least one node")
    m.span_used_link = pyo.Constraint(
        m.SPAN_USED, rule=lambda _, j, k: m.span_nodes[j, k] <= span[j].max_nodes[k] * m.span_used[j, k],
        doc="nodes only from units marked used")

    def general_rule(_, j, k):
        cap = span[j].lcm + cover[j, k] - 1
        largest = sum(cover[j, kk] * span[j].max_nodes[kk] for kk in span[j].units)
        big_m = max(0, largest - cap)
        # With spanned = 0 every row forces coverage 0 for a used unit, and unused units give no
        # nodes (span_used_link): the job holds nothing.
        return coverage(j) <= cap * m.spanned[j] + big_m * (1 - m.span_used[j, k])

    m.span_pool_cover_max = pyo.Constraint(m.SPAN_USED, rule=general_rule,
                                           doc="no redundant node: coverage below 1 plus the smallest used ratio")


def _add_types(m, span, units, cover, kind) -> None:
    multi = [j for j in m.SPAN_JOBS if len(span[j].need) > 1]
    m.SPAN_TYPES = pyo.Set(dimen=2, ordered=True, initialize=[(j, g) for j in multi for g in span[j].types],
                           doc="(job, GPU type) pairs of spanning jobs with several eligible types")
    m.type_used = pyo.Var(m.SPAN_TYPES, domain=pyo.Binary, doc="job holds whole nodes of the type")
    multi_pairs = [(j, k) for j in multi for k in span[j].units]
    m.SPAN_MULTI = pyo.Set(dimen=2, ordered=True, initialize=multi_pairs, doc="SPAN pairs of multi-type jobs")
    m.span_type_link = pyo.Constraint(
        m.SPAN_MULTI, rule=lambda _, j, k: m.span_nodes[j, k] <= span[j].max_nodes[k] * m.type_used[j, units[k].gpu_type],
        doc="nodes only of types marked used")

    single_type = [j for j in multi if not span[j].mixed_allowed]
    m.SPAN_SINGLE_TYPE_JOBS = pyo.Set(initialize=single_type, ordered=True, doc="multi-type jobs that may not mix")
    m.span_type_once = pyo.Constraint(
        m.SPAN_SINGLE_TYPE_JOBS, rule=lambda _, j: sum(m.type_used[j, g] for g in span[j].types) <= m.spanned[j],
        doc="one GPU type unless mixing is allowed")

    mixing = [j for j in multi if span[j].mixed_allowed and kind is not None]
    m.SPAN_MIXING_JOBS = pyo.Set(initialize=mixing, ordered=True, doc="jobs that may mix types (losses apply)")
    m.mixed = pyo.Var(m.SPAN_MIXING_JOBS, domain=pyo.Binary, doc="job mixes GPU types")
    m.span_mixed_def = pyo.Constraint(
        m.SPAN_MIXING_JOBS,
        rule=lambda _, j: (len(span[j].types) - 1) * m.mixed[j] >= sum(m.type_used[j, g] for g in span[j].types) - m.spanned[j],
        doc="mixing types is flagged")

    share_jobs = multi if kind is not None else []
    m.SPAN_SHARE = pyo.Set(dimen=2, ordered=True, initialize=[(j, g) for j in share_jobs for g in span[j].types],
                           doc="(job, type) pairs whose work split matters to the objective")
    m.share = pyo.Var(m.SPAN_SHARE, bounds=(0, 1), doc="fraction of the job's work run on the type")
    m.SPAN_SHARE_JOBS = pyo.Set(initialize=share_jobs, ordered=True, doc="jobs with a work split")
    m.span_share_def = pyo.Constraint(
        m.SPAN_SHARE_JOBS, rule=lambda _, j: sum(m.share[j, g] for g in span[j].types) == m.spanned[j],
        doc="the whole job's work is split over its types")
    m.span_share_max = pyo.Constraint(
        m.SPAN_SHARE,
        rule=lambda _, j, g: span[j].lcm * m.share[j, g]
        <= sum(cover[j, k] * m.span_nodes[j, k] for k in span[j].units if units[k].gpu_type == g),
        doc="a type runs no more work than its GPUs cover")


def _add_scope(m, span, units, kind) -> None:
    def domains(j, attr):
        return sorted({getattr(units[k], attr) for k in span[j].units})

    pod_jobs = [j for j in m.SPAN_JOBS if span[j].scope == "pod" and len(domains(j, "pod")) > 1]
    m.SPAN_POD = pyo.Set(dimen=2, ordered=True, initialize=[(j, p) for j in pod_jobs for p in domains(j, "pod")],
                         doc="(job, pod) choices of scope-pod jobs")
    m.pod_used = pyo.Var(m.SPAN_POD, domain=pyo.Binary, doc="job's nodes are in the pod")
    m.SPAN_POD_JOBS = pyo.Set(initialize=pod_jobs, ordered=True, doc="scope-pod jobs with more than one pod")
    m.span_pod_once = pyo.Constraint(
        m.SPAN_POD_JOBS, rule=lambda _, j: sum(m.pod_used[j, p] for p in domains(j, "pod")) == m.spanned[j],
        doc="scope pod: one pod")
    m.SPAN_POD_PAIRS = pyo.Set(dimen=2, ordered=True, initialize=[(j, k) for j in pod_jobs for k in span[j].units],
                               doc="(job, node unit) pairs of scope-pod jobs")
    m.span_pod_link = pyo.Constraint(
        m.SPAN_POD_PAIRS, rule=lambda _, j, k: m.span_nodes[j, k] <= span[j].max_nodes[k] * m.pod_used[j, units[k].pod],
        doc="scope pod: nodes only in the chosen pod")

    one_site = [j for j in m.SPAN_JOBS if span[j].scope == "site" and len(domains(j, "site")) > 1]
    cross = [j for j in m.SPAN_JOBS if span[j].scope == "any" and len(domains(j, "site")) > 1 and kind is not None]
    site_jobs = one_site + cross
    m.SPAN_SITE = pyo.Set(dimen=2, ordered=True, initialize=[(j, s) for j in site_jobs for s in domains(j, "site")],
                          doc="(job, site) pairs of jobs whose sites matter")
    m.site_used = pyo.Var(m.SPAN_SITE, domain=pyo.Binary, doc="job holds nodes in the site")
    m.SPAN_SITE_PAIRS = pyo.Set(dimen=2, ordered=True, initialize=[(j, k) for j in site_jobs for k in span[j].units],
                                doc="(job, node unit) pairs of jobs whose sites matter")
    m.span_site_link = pyo.Constraint(
        m.SPAN_SITE_PAIRS, rule=lambda _, j, k: m.span_nodes[j, k] <= span[j].max_nodes[k] * m.site_used[j, units[k].site],
        doc="nodes only in sites marked used")
    m.SPAN_ONE_SITE_JOBS = pyo.Set(initialize=one_site, ordered=True, doc="scope-site jobs with more than one site")
    m.span_site_once = pyo.Constraint(
        m.SPAN_ONE_SITE_JOBS, rule=lambda _, j: sum(m.site_used[j, s] for s in domains(j, "site")) == m.spanned[j],
        doc="scope site: one site")
    m.SPAN_CROSS_JOBS = pyo.Set(initialize=cross, ordered=True, doc="scope-any jobs that may span sites")
    m.cross_site = pyo.Var(m.SPAN_CROSS_JOBS, domain=pyo.Binary, doc="job spans sites")
    m.span_cross_site_def = pyo.Constraint(
        m.SPAN_CROSS_JOBS,
        rule=lambda _, j: (len(domains(j, "site")) - 1) * m.cross_site[j]
        >= sum(m.site_used[j, s] for s in domains(j, "site")) - m.spanned[j],
        doc="scope any: spanning sites is flagged")


def _job_value(m, span, j, per_type: dict[str, float]):
    """V_j: the job's throughput or cost as placed, via its work split when it has several types."""
    if len(span[j].need) == 1:
        return per_type[span[j].types[0]] * m.spanned[j]
    return sum(per_type[g] * m.share[j, g] for g in span[j].types)


def _add_value_terms(built, span, jobs, kind) -> None:
    m = built.model
    options = built.instance.options
    throughput = {j: {g: jobs[j].option(g).throughput for g in span[j].types} for j in m.SPAN_JOBS}
    cost = {j: {g: jobs[j].option(g).cost_per_hour for g in span[j].types} for j in m.SPAN_JOBS}
    valued = [j for j in m.SPAN_JOBS if len(span[j].need) == 1 or kind is not None]
    built.add_term("throughput", sum(jobs[j].priority * _job_value(m, span, j, throughput[j]) for j in valued))
    built.add_term("job_cost", sum(_job_value(m, span, j, cost[j]) for j in valued))
    if kind is None:
        return
    per_type = throughput if kind == "throughput" else cost

    def loss_floor(loss, flag, j):
        return loss[j] >= _job_value(m, span, j, per_type[j]) - max(per_type[j].values()) * (1 - flag[j])

    m.SITE_LOSS_JOBS = pyo.Set(initialize=list(m.cross_site.index_set()), ordered=True,
                               doc="jobs that may span sites")
    m.site_loss = pyo.Var(m.SITE_LOSS_JOBS, domain=pyo.NonNegativeReals, doc="job value lost when cross_site is set")
    m.span_site_loss_def = pyo.Constraint(m.SITE_LOSS_JOBS, rule=lambda _, j: loss_floor(m.site_loss, m.cross_site, j),
                                          doc="the loss base is the job's value when cross_site is set")
    built.add_term("cross_site_loss", sum(_loss_weight(kind, jobs[j].priority) * options.cross_site_penalty
                                          * m.site_loss[j] for j in m.SITE_LOSS_JOBS))
    m.MIXED_LOSS_JOBS = pyo.Set(initialize=list(m.mixed.index_set()), ordered=True,
                                doc="jobs that may mix GPU types")
    m.mixed_loss = pyo.Var(m.MIXED_LOSS_JOBS, domain=pyo.NonNegativeReals, doc="job value lost when mixed is set")
    m.span_mixed_loss_def = pyo.Constraint(m.MIXED_LOSS_JOBS, rule=lambda _, j: loss_floor(m.mixed_loss, m.mixed, j),
                                           doc="the loss base is the job's value when mixed is set")
    built.add_term("mixed_type_loss", sum(_loss_weight(kind, jobs[j].priority) * options.mixed_type_penalty
                                          * m.mixed_loss[j] for j in m.MIXED_LOSS_JOBS))
