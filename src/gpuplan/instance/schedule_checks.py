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

from collections import defaultdict
from typing import Iterator

import numpy as np

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
        missing = sorted(set(range(periods)) - {series[i].period for i in rows})
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
            yield ("site_series", rows[0], "period"), (
                f"series of unequal length: site '{site}' has rows for {periods - len(missing)} of the "
                f"{periods} periods (missing periods {shown}); give a row for every period")
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
    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(instance.capacity):
        key = (row.site, row.gpu_type)
        if key in first and instance.capacity[first[key]].gpus_per_node != row.gpus_per_node:
            other = instance.capacity[first[key]]
            yield ("capacity", i, "gpus_per_node"), (
                f"site '{row.site}', GPU type '{row.gpu_type}' has gpus_per_node {row.gpus_per_node} here but "
                f"{other.gpus_per_node} in capacity[{first[key]}] (one node size per site and GPU type)")
        first.setdefault(key, i)


def _capacity_gpus(instance: Instance) -> dict[tuple[str, str], np.ndarray]:
    """GPUs per (site, GPU type) and period: the period's own row, else the row for every period."""
    periods = instance.time.periods
    gpus: dict[tuple[str, str], np.ndarray] = {}
    for row in sorted(instance.capacity, key=lambda r: r.period is not None):  # own rows last: they win
        key = (row.site, row.gpu_type)
        values = gpus.setdefault(key, np.zeros(periods))
        if row.period is None:
            values[:] = row.nodes * row.gpus_per_node
        elif row.period < periods:
            values[row.period] = row.nodes * row.gpus_per_node
    return gpus


def _largest_site(capacity: dict, sites: list[str], gpu_type: str, periods: int) -> np.ndarray:
    """Per period, the GPUs of ``gpu_type`` at the allowed site that has the most."""
    if not sites:
        return np.zeros(periods)
    return np.max([capacity.get((s, gpu_type), np.zeros(periods)) for s in sites], axis=0)


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


def _required_work_fits(instance: Instance) -> Iterator[Problem]:
    """A required job can do its work alone: per allowed period, its fastest option whose gang
    fits the capacity of an allowed site, at full power. This bound ignores other jobs,
    contiguity and migration, so it never rejects a feasible instance."""
    grid = instance.time
    hours = grid.period_hours
    capacity = _capacity_gpus(instance)
    largest: dict[tuple, np.ndarray] = {}   # (allowed sites, GPU type) -> GPUs per period
    starts = np.arange(grid.periods) * hours
    for i, job in enumerate(instance.training_jobs):
        if not job.required:
            continue
        sites = _allowed_sites(instance, job)
        window = starts >= job.release_h - 1e-9
        if job.deadline_h is not None:
            window &= starts + hours <= job.deadline_h + 1e-9
        best = np.zeros(grid.periods)
        for option in job.gpu_options:
            key = (tuple(sites), option.gpu_type)
            if key not in largest:
                largest[key] = _largest_site(capacity, sites, option.gpu_type, grid.periods)
            gang = job.gpus_on(option.gpu_type)
            best = np.maximum(best, np.where(largest[key] >= gang, gang * option.throughput, 0.0))
        most = float(best[window].sum() * hours)
        if most < job.work_gpu_hours - TOLERANCE:
            end = (f"its deadline_h {job.deadline_h:g}" if job.deadline_h is not None
                   else f"the horizon's end ({grid.periods * hours:g} h)")
            why = ("" if most > 0 else " (in no period of that window does its GPU count fit an allowed site's "
                                       "capacity of its GPU types)")
            yield ("training_jobs", i, "work_gpu_hours"), (
                f"work no capacity can finish: job '{job.id}' needs {job.work_gpu_hours:g} GPU-hours but can do at "
                f"most {most:g} between release_h {job.release_h:g} and {end}, even alone at full speed on its "
                f"best option{why}; it is required, so every plan is infeasible (set required false to let it end "
                f"unfinished)")


def _hard_demand_fits(instance: Instance) -> Iterator[Problem]:
    """A hard service's demand in a period is at most what all its allowed capacity can serve."""
    periods = instance.time.periods
    capacity = _capacity_gpus(instance)
    servable: dict[str, np.ndarray] = {}
    for service in instance.services:
        if service.unmet_cost_per_gpu_hour is None:
            servable[service.id] = sum((capacity.get((s, o.gpu_type), np.zeros(periods)) * o.capacity_per_gpu
                                        for s in _allowed_sites(instance, service) for o in service.gpu_options),
                                       np.zeros(periods))
    for i, row in enumerate(instance.service_demand):
        if row.service not in servable or row.period >= periods:
            continue
        most = float(servable[row.service][row.period])
        if row.gpus > most + TOLERANCE:
            yield ("service_demand", i, "gpus"), (
                f"hard service '{row.service}' demands {row.gpus:g} reference GPUs in period {row.period} but all "
                f"its allowed capacity serves at most {most:g}: every plan is infeasible (give the service an "
                f"unmet_cost_per_gpu_hour to allow unmet demand)")
