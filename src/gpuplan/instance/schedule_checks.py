"""Cross-table rules of the schedule sections: unique keys, references, periods inside the
time grid, complete series, and work or demand that no capacity can carry when it is hard.

Like :mod:`gpuplan.instance.checks`, each rule yields ``(location, message)`` with the
pydantic-style path of the offending value (so a CSV table's line and column are named).
Per-field rules (finite numbers, shares in (0, 1], a deadline after the release) are the
schema's. A job that is not required and cannot finish is *not* an input error: the model
reports it unfinished. A required job or a hard service that no capacity can carry makes
every plan infeasible, so it is rejected here with the numbers that show why.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from itertools import islice
from typing import Iterator

from .schema import Instance

Problem = tuple[tuple, str]

# Sections that make an instance a schedule instance (each needs the time grid).
SCHEDULE_SECTIONS = ("site_series", "pue_curve", "facilities", "capacity", "power_modes", "training_jobs",
                     "services", "service_demand")
# Series whose absence in a period would silently read as 0 (price, carbon) or PUE 1.0 (temperature).
# grid_limit_kw is left out: an empty cell means no limit in that period, by design.
FULL_SERIES = ("price_per_kwh", "carbon_g_per_kwh", "outdoor_temp_c")
TOLERANCE = 1e-6   # the verifier's tolerance on work and demand


def has_schedule_sections(instance: Instance) -> bool:
    return instance.time is not None or any(getattr(instance, name) for name in SCHEDULE_SECTIONS)


def schedule_problems(instance: Instance) -> Iterator[Problem]:
    if instance.time is None:
        given = [name for name in SCHEDULE_SECTIONS if getattr(instance, name)]
        yield ("time",), f"missing: the schedule sections ({', '.join(given)}) need a time grid (time.periods)"
        return
    yield from _duplicate_keys(instance)
    yield from _references(instance)
    yield from _periods_in_grid(instance)
    yield from _series_cover_every_period(instance)
    yield from _series_given_for_every_site(instance)
    yield from _node_size_per_site_and_type(instance)
    yield from _options_with_capacity(instance)
    yield from _split_gangs(instance)
    yield from _required_work_fits(instance)
    yield from _hard_demand_fits(instance)


# ---------------------------------------------------------------- keys and references


def _duplicate_keys(instance: Instance) -> Iterator[Problem]:
    """Each table's rows are unique by their key; the message names the key."""
    keyed = (
        ("training_jobs", "id", lambda r: r.id, lambda r: f"duplicate id '{r.id}' in training_jobs"),
        ("services", "id", lambda r: r.id, lambda r: f"duplicate id '{r.id}' in services"),
        ("power_modes", "id", lambda r: (r.gpu_type, r.id),
         lambda r: f"power mode '{r.id}' of GPU type '{r.gpu_type}' is listed twice"),
        ("facilities", "site", lambda r: r.site, lambda r: f"site '{r.site}' has a second facilities row"),
        ("site_series", "period", lambda r: (r.site, r.period),
         lambda r: f"a second site_series row for site '{r.site}', period {r.period}"),
        ("capacity", "period", lambda r: (r.site, r.gpu_type, r.period),
         lambda r: f"a second capacity row for site '{r.site}', GPU type '{r.gpu_type}', "
                   f"{'period ' + str(r.period) if r.period is not None else 'every period (period empty)'}"),
        ("service_demand", "period", lambda r: (r.service, r.period),
         lambda r: f"a second service_demand row for service '{r.service}', period {r.period}"),
        ("pue_curve", "outdoor_temp_c", lambda r: (r.site, r.outdoor_temp_c),
         lambda r: f"site '{r.site}' has two PUE breakpoints at {r.outdoor_temp_c:g} C"),
    )
    for table, field, key, message in keyed:
        seen: set = set()
        for i, row in enumerate(getattr(instance, table)):
            if key(row) in seen:
                yield (table, i, field), message(row)
            seen.add(key(row))


def _references(instance: Instance) -> Iterator[Problem]:
    sites = {site.id for site in instance.sites}
    gpu_types = {gpu.id for gpu in instance.gpu_types}
    tenants = {tenant.id for tenant in instance.tenants}
    services = {service.id for service in instance.services}
    for table in ("site_series", "pue_curve", "facilities", "capacity"):
        for i, row in enumerate(getattr(instance, table)):
            if row.site not in sites:
                yield (table, i, "site"), f"unknown site '{row.site}'"
    for table in ("capacity", "power_modes"):
        for i, row in enumerate(getattr(instance, table)):
            if row.gpu_type not in gpu_types:
                yield (table, i, "gpu_type"), f"unknown GPU type '{row.gpu_type}'"
    for i, job in enumerate(instance.training_jobs):
        if job.tenant is not None and job.tenant not in tenants:
            yield ("training_jobs", i, "tenant"), f"unknown tenant '{job.tenant}'"
    for table in ("training_jobs", "services"):
        for i, record in enumerate(getattr(instance, table)):
            for k, option in enumerate(record.gpu_options):
                if option.gpu_type not in gpu_types:
                    yield (table, i, "gpu_options", k, "gpu_type"), f"unknown GPU type '{option.gpu_type}'"
            for k, site in enumerate(record.sites or ()):
                if site not in sites:
                    yield (table, i, "sites", k), f"unknown site '{site}'"
    for i, row in enumerate(instance.service_demand):
        if row.service not in services:
            yield ("service_demand", i, "service"), f"unknown service '{row.service}'"


def _periods_in_grid(instance: Instance) -> Iterator[Problem]:
    periods = instance.time.periods
    for table in ("site_series", "capacity", "service_demand"):
        for i, row in enumerate(getattr(instance, table)):
            if row.period is not None and row.period >= periods:
                yield (table, i, "period"), (
                    f"period {row.period} is outside the time grid (periods 0 to {periods - 1})")


# ---------------------------------------------------------------- series


def _rows_by_site(instance: Instance) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(instance.site_series):
        rows[row.site].append(i)
    return rows


def _series_cover_every_period(instance: Instance) -> Iterator[Problem]:
    """A site with series has a row in every period, and a column set in one of its periods is
    set in all of them: a gap would read as free power, zero carbon or PUE 1.0."""
    periods = instance.time.periods
    series = instance.site_series
    for site, rows in _rows_by_site(instance).items():
        have = {series[i].period for i in rows if series[i].period < periods}
        if len(have) < periods:
            missing = list(islice((t for t in range(periods) if t not in have), 5))  # never walks a long grid
            listed = ", ".join(map(str, missing)) + (", ..." if periods - len(have) > len(missing) else "")
            yield ("site_series", rows[0], "period"), (
                f"series of unequal length: site '{site}' has rows for {len(have)} of the {periods} periods "
                f"(missing periods {listed}); give a row for every period")
            continue
        for column in FULL_SERIES:
            given = [i for i in rows if getattr(series[i], column) is not None]
            if given and len(given) < len(rows):
                first_gap = next(i for i in rows if getattr(series[i], column) is None)
                yield ("site_series", first_gap, column), (
                    f"series of unequal length: site '{site}' has {column} in {len(given)} of its {len(rows)} "
                    f"periods but not in period {series[first_gap].period}")


def _series_given_for_every_site(instance: Instance) -> Iterator[Problem]:
    """Where one site has a price (or carbon) series, every site with capacity needs one; a site
    with a PUE curve needs its outdoor temperature."""
    series = instance.site_series
    rows = _rows_by_site(instance)
    has = {column: {s for s, idx in rows.items() if any(getattr(series[i], column) is not None for i in idx)}
           for column in FULL_SERIES}
    capacity_sites = list(dict.fromkeys(row.site for row in instance.capacity))
    for column in ("price_per_kwh", "carbon_g_per_kwh"):
        if not has[column]:
            continue
        example = sorted(has[column])[0]
        for site in capacity_sites:
            if site not in has[column]:
                yield _site_location(instance, site, rows, column), (
                    f"missing series: site '{site}' has capacity but no {column}, which site '{example}' has "
                    f"(an absent {column} reads as 0)")
    first_point = {}
    for i, point in enumerate(instance.pue_curve):
        first_point.setdefault(point.site, i)
    for site, i in first_point.items():
        if site not in has["outdoor_temp_c"]:
            yield ("pue_curve", i, "site"), (
                f"missing series: site '{site}' has a PUE curve but no outdoor_temp_c in site_series "
                f"(its PUE would be 1.0 in every period)")


def _site_location(instance: Instance, site: str, rows: dict[str, list[int]], column: str) -> tuple:
    """Where a site's missing series is shown: its first series row, else its entry in sites."""
    if rows.get(site):
        return ("site_series", rows[site][0], column)
    index = next((i for i, s in enumerate(instance.sites) if s.id == site), None)
    return ("sites", index, "id") if index is not None else ("site_series",)


# ---------------------------------------------------------------- capacity


def _node_size_per_site_and_type(instance: Instance) -> Iterator[Problem]:
    """Every capacity row of a (site, GPU type) has the same gpus_per_node: the node size."""
    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(instance.capacity):
        key = (row.site, row.gpu_type)
        if key in first and instance.capacity[first[key]].gpus_per_node != row.gpus_per_node:
            other = instance.capacity[first[key]]
            yield ("capacity", i, "gpus_per_node"), (
                f"site '{row.site}', GPU type '{row.gpu_type}' has gpus_per_node {row.gpus_per_node} here but "
                f"{other.gpus_per_node} in capacity[{first[key]}] (one node size per site and GPU type)")
        first.setdefault(key, i)


class _Capacity:
    """GPUs per (site, GPU type) and period, kept as rows rather than one value per period (a
    grid may be long): the period's own row, else the row for every period, else 0."""

    def __init__(self, instance: Instance):
        self.default: dict[tuple[str, str], int] = {}
        self.own: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
        for row in instance.capacity:
            gpus = row.nodes * row.gpus_per_node
            if row.period is None:
                self.default[(row.site, row.gpu_type)] = gpus
            else:
                self.own[(row.site, row.gpu_type)][row.period] = gpus
        self.own_periods = sorted({t for periods in self.own.values() for t in periods})

    def gpus(self, site: str, gpu_type: str, period: int | None) -> int:
        """``period`` None: any period that no capacity row names."""
        key = (site, gpu_type)
        own = self.own.get(key, {})
        return own[period] if period in own else self.default.get(key, 0)


def _allowed_sites(instance: Instance, record) -> list[str]:
    return record.sites if record.sites is not None else [site.id for site in instance.sites]


def _options_with_capacity(instance: Instance) -> Iterator[Problem]:
    """A job or service has capacity rows for at least one of its GPU types at its allowed sites."""
    pairs = {(row.site, row.gpu_type) for row in instance.capacity}
    for table in ("training_jobs", "services"):
        for i, record in enumerate(getattr(instance, table)):
            sites = _allowed_sites(instance, record)
            types = [option.gpu_type for option in record.gpu_options]
            if not any((s, g) in pairs for s in sites for g in types):
                yield (table, i, "gpu_options"), (
                    f"no capacity of its GPU types ({', '.join(types)}) at its allowed sites ({', '.join(sites)}): "
                    f"'{record.id}' can never run")


def _split_gangs(instance: Instance) -> Iterator[Problem]:
    """span_sites / allow_mixed_types: only on preemptible jobs (a non-preemptible job keeps one
    site, GPU type and power mode over its run); a job spanning sites may change them, so it is
    migratable without a migration cost (a change of a set of sites has no price); a job mixing
    types holds one gang size on all its options (its gang's GPUs then sum to that size)."""
    for i, job in enumerate(instance.training_jobs):
        flags = [name for name in ("span_sites", "allow_mixed_types") if getattr(job, name)]
        if flags and not job.preemptible:
            yield ("training_jobs", i, flags[0]), (
                f"job '{job.id}' is not preemptible: it keeps one site, GPU type and power mode over its run, "
                f"so {flags[0]} needs preemptible true")
            continue
        if job.span_sites and not job.migratable:
            yield ("training_jobs", i, "span_sites"), (
                f"job '{job.id}' may span sites, so its sites change between periods: span_sites needs "
                f"migratable true")
        elif job.span_sites and job.migration_cost > 0:
            yield ("training_jobs", i, "migration_cost"), (
                f"job '{job.id}' may span sites (span_sites), and a change of a set of sites has no price: "
                f"migration_cost must be 0")
        sizes = sorted({job.gpus_on(o.gpu_type) for o in job.gpu_options})
        if job.allow_mixed_types and len(sizes) > 1:
            yield ("training_jobs", i, "gpu_options"), (
                f"job '{job.id}' may mix GPU types, so its gang holds one GPU count on every option; its "
                f"options hold {', '.join(map(str, sizes))}")


def _window(job, grid) -> range:
    """The job's allowed periods: t * h >= release_h and (t + 1) * h <= deadline_h (1e-9 slack),
    found by arithmetic, then corrected by one where the float division rounds the other way."""
    h, slack = grid.period_hours, 1e-9
    first = min(grid.periods, max(0, math.ceil((job.release_h - slack) / h)))
    if first > 0 and (first - 1) * h >= job.release_h - slack:
        first -= 1
    elif first < grid.periods and first * h < job.release_h - slack:
        first += 1
    last = grid.periods - 1
    if job.deadline_h is not None:
        last = min(last, math.floor((job.deadline_h + slack) / h) - 1)
        if last + 1 < grid.periods and (last + 2) * h <= job.deadline_h + slack:
            last += 1
        elif last >= 0 and (last + 1) * h > job.deadline_h + slack:
            last -= 1
    return range(first, last + 1)


def _best_rate(job, sites: list[str], capacity: _Capacity, period: int | None) -> float:
    """GPU-hours of work per hour of the job's fastest option whose gang fits an allowed site
    (for a job that may split its gang: fits the pools it may split over, losses ignored)."""
    def fits(option) -> bool:
        n = job.gpus_on(option.gpu_type)
        types = [o.gpu_type for o in job.gpu_options] if job.allow_mixed_types else [option.gpu_type]
        per_site = [sum(capacity.gpus(s, g, period) for g in types) for s in sites]
        return (sum(per_site) if job.span_sites else max(per_site, default=0)) >= n
    return max((job.gpus_on(o.gpu_type) * o.throughput for o in job.gpu_options if fits(o)), default=0.0)


def _required_work_fits(instance: Instance) -> Iterator[Problem]:
    """A required job can do its work alone: per allowed period, its fastest option whose gang
    fits the capacity of an allowed site, at full power. This bound ignores other jobs,
    contiguity and migration, so it never rejects a feasible instance."""
    grid = instance.time
    capacity = _Capacity(instance)
    for i, job in enumerate(instance.training_jobs):
        if not job.required:
            continue
        sites = _allowed_sites(instance, job)
        window = _window(job, grid)
        own = capacity.own_periods[bisect_left(capacity.own_periods, window.start):
                                   bisect_right(capacity.own_periods, window.stop - 1)]
        most = grid.period_hours * ((len(window) - len(own)) * _best_rate(job, sites, capacity, None)
                                    + sum(_best_rate(job, sites, capacity, t) for t in own))
        if most < job.work_gpu_hours - TOLERANCE:
            end = (f"its deadline_h {job.deadline_h:g}" if job.deadline_h is not None
                   else f"the horizon's end ({grid.periods * grid.period_hours:g} h)")
            why = ("" if most > 0 else " (in no period of that window does its GPU count fit an allowed site's "
                                       "capacity of its GPU types)")
            yield ("training_jobs", i, "work_gpu_hours"), (
                f"work no capacity can finish: job '{job.id}' needs {job.work_gpu_hours:g} GPU-hours but can do at "
                f"most {most:g} between release_h {job.release_h:g} and {end}, even alone at full speed on its "
                f"best option{why}; it is required, so every plan is infeasible (set required false to let it end "
                f"unfinished)")


def _hard_demand_fits(instance: Instance) -> Iterator[Problem]:
    """A hard service's demand in a period is at most what all its allowed capacity can serve."""
    capacity = _Capacity(instance)
    services = {service.id: service for service in instance.services}
    for i, row in enumerate(instance.service_demand):
        service = services.get(row.service)
        if service is None or service.unmet_cost_per_gpu_hour is not None or row.period >= instance.time.periods:
            continue
        most = sum(capacity.gpus(s, o.gpu_type, row.period) * o.capacity_per_gpu
                   for s in _allowed_sites(instance, service) for o in service.gpu_options)
        if row.gpus > most + TOLERANCE:
            yield ("service_demand", i, "gpus"), (
                f"hard service '{row.service}' demands {row.gpus:g} reference GPUs in period {row.period} but all "
                f"its allowed capacity serves at most {most:g}: every plan is infeasible (give the service an "
                f"unmet_cost_per_gpu_hour to allow unmet demand)")
