"""Quota profiles and the rules that bind them: capacities computed, not written down."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.config import Settings
from shared.youtube import quota
from shared.youtube.quota import BUCKETED_PROFILE, SEED_PROFILE


def test_one_video_costs_the_seeds_1700_units_from_its_upload_share() -> None:
    assert quota.video_need(SEED_PROFILE) == {("units", "uploads"): 1600 + 50 + 50}
    assert quota.video_need(BUCKETED_PROFILE) == {("videos.insert", "uploads"): 1, ("units", "uploads"): 100}


@pytest.mark.parametrize(
    ("profile", "binding", "videos"),
    [
        (SEED_PROFILE, "categories", 4),  # 7,000 upload units // 1,700
        (SEED_PROFILE, "safe_limit", 5),  # 9,000 safe units // 1,700
        (BUCKETED_PROFILE, "categories", 50),  # 5,000 upload units of the 10,000-unit bucket // 100
        (BUCKETED_PROFILE, "safe_limit", 90),  # 90 safe videos.insert calls
    ],
)
def test_videos_per_pool_follow_from_the_rules(profile, binding, videos) -> None:
    assert quota.videos_per_pool(profile, binding) == videos


@pytest.mark.parametrize(
    ("active", "reserve", "binding", "profile", "capacity"),
    [
        (12, 3, "categories", SEED_PROFILE, 12 * 4 + 3 * 2),  # 54: the pool rules bind active accounts
        (12, 3, "safe_limit", SEED_PROFILE, 12 * 5 + 3 * 2),  # 66: the caps bind
        (10, 5, "categories", SEED_PROFILE, 10 * 4 + 5 * 2),  # 50: the seed's other configuration
        (12, 3, "categories", BUCKETED_PROFILE, 12 * 5 + 3 * 2),  # 66: caps bind
    ],
)
def test_fleet_capacity_with_one_account_per_pool(active, reserve, binding, profile, capacity) -> None:
    caps = [5] * active + [2] * reserve
    assert sum(quota.pool_capacity(profile, binding, [cap]) for cap in caps) == capacity


def test_one_shared_project_caps_the_whole_fleet() -> None:
    # The production default: every account authorised through one OAuth client, one pool.
    assert quota.pool_capacity(SEED_PROFILE, "categories", [5] * 12 + [2] * 3) == 4
    assert quota.pool_capacity(BUCKETED_PROFILE, "categories", [5] * 12 + [2] * 3) == 50


def test_other_calls_get_what_the_videos_leave() -> None:
    spent: dict = {}
    analytics = quota.may_spend(SEED_PROFILE, "categories", spent, "units", "analytics", 1000)
    assert analytics.allowed
    assert not quota.may_spend(SEED_PROFILE, "categories", spent, "units", "analytics", 1001).allowed
    # the videos' 6,800 units are set aside: 200 upload units remain for other upload calls
    assert quota.may_spend(SEED_PROFILE, "categories", spent, "units", "uploads", 200).allowed
    assert not quota.may_spend(SEED_PROFILE, "categories", spent, "units", "uploads", 201).allowed
    # safe limit: 6,800 + 1,500 metadata + 1,000 analytics would be 9,300 > 9,000
    busy = {("units", "metadata"): 1500}
    verdict = quota.may_spend(SEED_PROFILE, "categories", busy, "units", "analytics", 800)
    assert not verdict.allowed and "safe limit" in verdict.reason
    # emergency: only the daily limit binds it (the share is a reserve, never a budget for normal calls)
    assert quota.may_spend(SEED_PROFILE, "categories", busy, "units", "emergency", 1700).allowed
    assert not quota.may_spend(SEED_PROFILE, "categories", busy, "units", "emergency", 1701).allowed
    # safe_limit binding: only the 500 units above the videos' 8,500 remain, for every category
    assert quota.may_spend(SEED_PROFILE, "safe_limit", {}, "units", "analytics", 500).allowed
    assert not quota.may_spend(SEED_PROFILE, "safe_limit", {}, "units", "metadata", 501).allowed
    assert not quota.may_spend(SEED_PROFILE, "categories", {}, "units", "marketing", 1).allowed


def test_within_limits_names_every_rule_broken() -> None:
    over = {("units", "uploads"): 7100, ("units", "metadata"): 1600, ("units", "emergency"): 1400}
    problems = quota.within_limits(SEED_PROFILE, "categories", over)
    assert any("uploads: 7100 > budget 7000" in p for p in problems)
    assert any("metadata: 1600 > budget 1500" in p for p in problems)
    assert any("8700" in p for p in problems) is False  # 8,700 normal units are under the safe limit
    assert any("10100 > daily limit" in p for p in problems)
    assert quota.within_limits(SEED_PROFILE, "safe_limit", {("units", "uploads"): 8500}) == []


def test_pool_health_thresholds() -> None:
    units = SEED_PROFILE.buckets["units"]
    assert [units.health(u) for u in (0, 6999, 7000, 8999, 9000)] == [
        "healthy",
        "healthy",
        "warning",
        "warning",
        "critical",
    ]


def test_a_bucketed_profile_is_a_setting_not_code(monkeypatch) -> None:
    custom = {
        "buckets": {
            "videos.insert": {"daily_limit": 100, "safe_limit": 100, "categories": {"uploads": 1.0}},
            "search.list": {"daily_limit": 100, "safe_limit": 100, "categories": {"metadata": 1.0}},
            "units": {
                "daily_limit": 10000,
                "safe_limit": 9000,
                "categories": {"uploads": 0.6, "metadata": 0.4},
            },
        },
        "methods": {
            "videos.insert": {"bucket": "videos.insert", "cost": 1, "category": "uploads"},
            "search.list": {"bucket": "search.list", "cost": 1, "category": "metadata"},
            "thumbnails.set": {"bucket": "units", "cost": 50, "category": "metadata"},
            "videos.update": {"bucket": "units", "cost": 50, "category": "metadata"},
        },
        "score_bucket": "videos.insert",
    }
    monkeypatch.setenv("YTEMPIRE_QUOTA_PROFILES", json.dumps({"mine": custom}))
    monkeypatch.setenv("YTEMPIRE_QUOTA_DEFAULT_PROFILE", "mine")
    s = Settings()
    profile = s.quota_profiles["mine"]
    assert quota.videos_per_pool(profile, s.quota_binding) == 60  # 6,000 upload units // 100
    assert quota.as_youtube_limits(profile)["buckets"] == {
        "videos.insert": 100,
        "search.list": 100,
        "units": 10000,
    }


@pytest.mark.parametrize(
    "broken",
    [
        {"buckets": {"units": {"daily_limit": 10, "safe_limit": 11, "categories": {}}}},
        {"buckets": {"units": {"daily_limit": 10, "safe_limit": 9, "categories": {"a": 0.7, "b": 0.4}}}},
        {"methods": {"videos.insert": {"bucket": "nope", "cost": 1, "category": "uploads"}}},
        {"methods": {"videos.insert": {"bucket": "units", "cost": 1, "category": "nope"}}},
        {"video_methods": ["videos.delete"]},
        {"score_bucket": "nope"},
        {
            "video_category": "analytics",
            "buckets": {"units": {"daily_limit": 9, "safe_limit": 9, "categories": {"uploads": 1}}},
        },
    ],
)
def test_inconsistent_profiles_are_refused(broken) -> None:
    base = json.loads(SEED_PROFILE.model_dump_json())
    with pytest.raises(ValidationError):
        quota.QuotaProfile.model_validate({**base, **broken})


def test_settings_refuse_an_unknown_profile_name() -> None:
    with pytest.raises(ValidationError, match="not defined"):
        Settings(quota_pool_profiles={"p1": "imaginary"})
    with pytest.raises(KeyError, match="no cost"):
        SEED_PROFILE.cost("videos.delete")
