"""The energy block (models/energy.md): facility power, grid limit, peak, energy cost, carbon.

It reads only the published ``it_power_kw[site, period]`` expressions and the index's
:class:`~gpuplan.index.energy.EnergyData`, so every problem that publishes IT power reuses it
unchanged. A model without IT power gets nothing from it.
"""

from __future__ import annotations

import pyomo.environ as pyo


def add_energy(built) -> None:
    it_kw = built.interface("it_power_kw")
    data = getattr(built.index, "energy", None)
    if it_kw is None or data is None:
        return
    m = built.model
    keys = sorted(it_kw)
    facility = {key: data.pue[key] * it_kw[key] for key in keys}
    built.facility_kw = facility

    limited = [key for key in keys if key in data.grid_limit_kw]
    m.grid_limit_keys = pyo.Set(initialize=limited, dimen=2, doc="(site, period) with a grid limit")
    m.grid_limit = pyo.Constraint(m.grid_limit_keys, rule=lambda m, s, t: facility[s, t] <= data.grid_limit_kw[s, t],
                                  doc="facility power within the grid limit")

    charged = [s for s in data.sites if data.demand_charge.get(s, 0) > 0 and any(k[0] == s for k in keys)]
    m.charged_sites = pyo.Set(initialize=charged, doc="sites with a demand charge")
    m.peak_kw = pyo.Var(m.charged_sites, within=pyo.NonNegativeReals, doc="peak facility power of a charged site")
    m.peak_keys = pyo.Set(initialize=[(s, t) for s, t in keys if s in charged], dimen=2,
                          doc="(site, period) of a charged site")
    m.peak_def = pyo.Constraint(m.peak_keys, rule=lambda m, s, t: m.peak_kw[s] >= facility[s, t], doc="the peak covers every period")

    h = data.hours
    built.add_term("energy_cost", sum(data.price[key] * h * facility[key] for key in keys if data.price[key]))
    carbon_kg = sum(data.carbon_g[key] / 1000 * h * facility[key] for key in keys if data.carbon_g[key])
    built.add_term("carbon_kg", carbon_kg)
    built.add_term("carbon_cost", data.carbon_price_per_t / 1000 * carbon_kg if data.carbon_price_per_t else 0)
    built.add_term("demand_charge", sum(data.demand_charge[s] * m.peak_kw[s] for s in charged))
