"""The plan table: names, limits and Stripe price ids, all from settings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.config import Settings

PERIODS: tuple[str, ...] = ("monthly", "yearly")


class UnknownPlan(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Plan:
    name: str
    amount_usd: Decimal
    channels: int
    videos_per_day: int
    rank: int  # position in the settings' table: a higher rank is a bigger plan


def plan(settings: Settings, name: str) -> Plan:
    names = list(settings.plans)
    if name not in settings.plans:
        raise UnknownPlan("plan", f"unknown plan {name!r}; one of {', '.join(names)}")
    p = settings.plans[name]
    return Plan(name, p.amount_usd, p.channels, p.videos_per_day, names.index(name))


def price_id(settings: Settings, name: str, period: str) -> str:
    p = plan(settings, name)
    if period not in PERIODS:
        raise UnknownPlan("period", f"unknown period {period!r}; one of {', '.join(PERIODS)}")
    return settings.plans[p.name].price_ids[period]  # type: ignore[index]


def by_price_id(settings: Settings, price: str | None) -> tuple[str, str] | None:
    """(plan, period) of a Stripe price id, or None when it is not one of ours."""
    for name, p in settings.plans.items():
        for period, pid in p.price_ids.items():
            if pid == price:
                return name, period
    return None
