"""Sidecar decisions without I/O, and settings that fail fast with a clear message."""

from __future__ import annotations

import pytest

from zapgate_core.contract.worker_proxy import EligibleInstance
from zapgate_sidecar.policies import Backoff, BadMacBreaker, select_target
from zapgate_sidecar.settings import SettingsError, load_settings

BASE = {"EDGE_BASE_URL": "http://edge.test/worker-proxy", "WORKER_SECRET": "s3cr3t-value"}


def test_target_is_top_n_by_priority_with_stable_ties() -> None:
    instances = [EligibleInstance(id=i, priority=p) for i, p in [("a", 1), ("b", 5), ("c", 5), ("d", 9), ("e", 1)]]
    assert select_target(instances, 0) == ["d", "b", "c", "a", "e"]
    assert select_target(instances, 3) == ["d", "b", "c"]


def test_backoff_follows_seed_000_and_resets() -> None:
    backoff = Backoff((2, 5, 10, 20, 40, 60))
    assert [backoff.next_delay() for _ in range(8)] == [2, 5, 10, 20, 40, 60, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 2


def test_bad_mac_breaker_window_threshold_and_cooldown() -> None:
    breaker = BadMacBreaker(threshold=3, window_ms=1_000, cooldown_ms=5_000)
    assert not breaker.record(0) and not breaker.record(100)
    assert not breaker.record(1_200)  # the first two fell out of the window
    assert not breaker.record(1_300)
    assert breaker.record(1_400)  # three within a second
    assert not any(breaker.record(1_500 + n) for n in range(10))  # resting
    assert not breaker.record(6_500) and not breaker.record(6_600)
    assert breaker.record(6_700)


def test_defaults_are_seed_000s() -> None:
    settings = load_settings(BASE)
    assert settings.port == 3000
    assert settings.discovery_poll_ms == 10_000 and settings.queue_poll_ms == 2_000
    assert settings.instance_lock_ttl_ms == 30_000 and settings.lock_renew_ms == 15_000
    assert str(settings.auth_base) == "/data/auth" and str(settings.media_base) == "/data/media"
    assert (settings.bad_mac_window_ms, settings.bad_mac_threshold, settings.bad_mac_cooldown_ms) == (
        60_000, 20, 300_000)
    assert load_settings({**BASE, "INSTANCE_LOCK_TTL_MS": "3000"}).lock_renew_ms == 2_000  # never below 2 s


def test_trailing_inbound_on_the_base_url_is_tolerated() -> None:
    assert load_settings({**BASE, "EDGE_BASE_URL": "http://e.test/worker-proxy/inbound"}).base_url == (
        "http://e.test/worker-proxy")


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"EDGE_BASE_URL": ""}, "EDGE_BASE_URL"),
        ({"WORKER_SECRET": ""}, "WORKER_SECRET"),
        ({"PORT": "http"}, "PORT"),
        ({"DISCOVERY_POLL_MS": "-5"}, "DISCOVERY_POLL_MS"),
        ({"INSTANCE_LOCK_TTL_MS": "10000", "INSTANCE_LOCK_RENEW_MS": "10000"}, "INSTANCE_LOCK_RENEW_MS"),
        ({"ZAPGATE_TRANSPORT": "baileys"}, "ZAPGATE_TRANSPORT"),
        ({"EDGE_BASE_URL": "ftp://x"}, "EDGE_BASE_URL"),
    ],
)
def test_invalid_values_fail_at_start_naming_the_variable(overrides: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**BASE, **overrides})
    assert names in str(info.value)
    assert "s3cr3t-value" not in str(info.value)


def test_fair_share_spreads_over_live_sidecars_within_the_cap() -> None:
    from zapgate_sidecar.policies import fair_share

    assert fair_share(6, {"me"}, 0) == 6
    assert fair_share(6, {"me", "other"}, 0) == 3
    assert fair_share(7, {"me", "other"}, 0) == 4
    assert fair_share(6, {"me"}, 2) == 2
    assert fair_share(0, {"me"}, 0) == 0


def test_fair_share_counts_announced_sidecars_that_hold_nothing_yet() -> None:
    from zapgate_sidecar.policies import fair_share, fleet_owners

    # Scale-out: "me" holds all 4, "new" just announced itself and holds nothing → it counts.
    owners = fleet_owners("me", {"me"}, {"me", "new"}, lapsed=set())
    assert owners == {"me", "new"} and fair_share(4, owners, 0) == 2
    # The new one's view: the holder, the announced fleet and itself.
    assert fleet_owners("new", {"me"}, {"me", "new"}, set()) == {"me", "new"}
    # A server without presence (no `sidecars`): exactly the lock owners and self, as before.
    assert fleet_owners("me", {"me", "b"}, set(), set()) == {"me", "b"}
    # Crash: "dead" was seen holding, its locks expired, its presence has not → left out, so the
    # survivors take its instances instead of leaving them to nobody until the presence expires.
    assert fleet_owners("me", {"me"}, {"me", "dead"}, lapsed={"dead"}) == {"me"}
    # Still holding: counted whatever the presence says.
    assert fleet_owners("me", {"me", "dead"}, {"me"}, lapsed={"dead"}) == {"me", "dead"}


def test_a_sidecar_whose_instances_were_deleted_counts_again_one_whose_locks_lapsed_does_not() -> None:
    from zapgate_sidecar.policies import lapsed_holders, remember_holders

    announced = {"me", "idle", "dead"}
    seen = remember_holders({}, {"a": "idle", "b": "dead", "c": "me"}, "me", announced)
    assert seen == {"idle": frozenset({"a"}), "dead": frozenset({"b"})}
    # "a" was deleted (not eligible any more), "b" is still eligible but nobody holds it: dead's lock lapsed.
    seen = remember_holders(seen, {"b": None, "c": "me", "d": None}, "me", announced)
    assert seen == {"dead": frozenset({"b"})}
    assert lapsed_holders(seen, {"me"}) == {"dead"}  # idle is counted again: it fails the two-sidecar split
    # The survivor took "b": dead stays lapsed while announced, and is forgotten when its presence goes.
    seen = remember_holders(seen, {"b": "me", "c": "me"}, "me", announced)
    assert lapsed_holders(seen, {"me"}) == {"dead"}
    assert remember_holders(seen, {"b": "me", "c": "me"}, "me", {"me", "idle"}) == {}
    # Holding again: counted as a lock owner, whatever it held before.
    seen = remember_holders(seen, {"b": "me", "e": "dead"}, "me", announced)
    assert seen == {"dead": frozenset({"e"})} and lapsed_holders(seen, {"me", "dead"}) == set()


def test_rebalancing_never_releases_a_linking_or_sending_runtime() -> None:
    from zapgate_sidecar.policies import may_release

    def release(**given: object) -> bool:
        values: dict[str, object] = {"rebalanced": True, "connected": False, "linking": False,
                                     "sends_in_flight": 0, "since_left_s": 0.0, "cooldown_s": 60.0}
        return may_release(**{**values, **given})  # type: ignore[arg-type]

    # Reconnect backoff (neither connected nor linking): moves at once, as before.
    assert release()
    # A QR or pairing code on screen: kept, however long it has been outside the target.
    assert not release(linking=True)
    assert not release(linking=True, since_left_s=3600.0)
    # Claimed messages being sent: kept, connected or not, cooldown over or not.
    assert not release(sends_in_flight=1)
    assert not release(connected=True, sends_in_flight=3, since_left_s=3600.0)
    # Connected and idle: after the anti-thrash cooldown only.
    assert not release(connected=True, since_left_s=59.9)
    assert release(connected=True, since_left_s=60.0)
    # No longer eligible (disabled, deleted): stops as before, linking or not.
    assert release(rebalanced=False, linking=True)
    assert release(rebalanced=False, sends_in_flight=2)
    assert not release(rebalanced=False, connected=True, since_left_s=1.0)
