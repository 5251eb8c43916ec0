"""What the shared energy block reads besides IT power: the time grid and the per-(site, period)
series. Any problem whose index has an ``energy`` attribute of this type gets the energy block."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EnergyData:
    sites: list[str]
    periods: int
    hours: float                                   # length of a period
    pue: dict[tuple[str, int], float]              # facility power / IT power
    price: dict[tuple[str, int], float]            # per kWh; negative allowed
    carbon_g: dict[tuple[str, int], float]         # grid carbon intensity, g per kWh
    grid_limit_kw: dict[tuple[str, int], float]    # facility power limit, only where given
    demand_charge: dict[str, float]                # per kW of the site's peak facility power
    carbon_price_per_t: float
