"""bench/idle_cost.py's arithmetic: units -> dollars, DynamoDB's unit rounding, per-instance-month scaling.

The bench itself asserts nothing; these pin the rules it prices with, so its figures cannot drift silently.
Loaded from its file (bench/ is not a package); nothing here starts a process.
"""

from __future__ import annotations

import json
import math
from types import ModuleType

import pytest

from tests.bench_loader import BENCH, load_bench


@pytest.fixture(scope="module")
def ic() -> ModuleType:
    return load_bench("idle_cost")


@pytest.fixture(scope="module")
def prices(ic: ModuleType) -> object:
    return ic.Prices.load()


def s(text: str) -> dict[str, str]:
    return {"S": text}


# ------------------------------------------------------------------ the price table
def test_price_table_holds_the_list_prices_it_names(prices: object) -> None:
    raw = json.loads((BENCH / "aws_prices.json").read_text())
    assert raw["region"] == "us-east-1" and raw["taken_on"] and raw["hours_per_month"] == 730
    assert all("source" in raw[k] for k in ("lambda", "apigateway_http_api", "apigateway_websocket",
                                            "dynamodb_on_demand", "sqs"))
    assert prices.lambda_gb_second == pytest.approx(0.0000133334)
    assert prices.lambda_request == pytest.approx(0.20e-6)
    assert prices.http_request == pytest.approx(1.00e-6)
    assert prices.ws_message == pytest.approx(1.00e-6)
    assert prices.ws_connection_minute == pytest.approx(0.25e-6)
    assert prices.ddb_wru == pytest.approx(0.625e-6)
    assert prices.ddb_rru == pytest.approx(0.125e-6)
    assert prices.sqs_request == pytest.approx(0.40e-6)


def test_a_million_of_each_unit_costs_its_list_price(ic: ModuleType, prices: object) -> None:
    million = ic.Units(**{name: 1_000_000 for name in ic.Units.BILLED})
    spend = ic.dollars(million, prices)
    assert spend == pytest.approx({
        "http_requests": 1.00, "lambda_requests": 0.20, "lambda_gb_seconds": 13.3334, "ws_messages": 1.00,
        "ws_connection_minutes": 0.25, "ddb_rru": 0.125, "ddb_wru": 0.625, "sqs_requests": 0.40,
    })  # fmt: skip
    # concurrency is reported, never priced
    assert sum(ic.dollars(ic.Units(lambda_busy_seconds=3600, lambda_held_seconds=3600), prices).values()) == 0


# ------------------------------------------------------------------ Lambda, API Gateway
def test_lambda_bills_each_invocation_rounded_up_to_the_millisecond(ic: ModuleType) -> None:
    assert ic.lambda_billed_ms(0) == 1
    assert ic.lambda_billed_ms(0.0001) == 1
    assert ic.lambda_billed_ms(0.0101) == 11
    assert ic.lambda_billed_ms(0.010) == 10
    assert ic.lambda_billed_ms(15.0) == 15_000
    # 15 s held open at 512 MB: 7.5 GB-s, $0.0001 per long-poll
    assert ic.gb_seconds(ic.lambda_billed_ms(15.0), 512) == pytest.approx(7.5)
    assert ic.gb_seconds(1000, 256) == pytest.approx(0.25)


def test_requests_and_messages_are_metered_per_started_increment(ic: ModuleType) -> None:
    assert ic.increments(0, 32 * 1024) == 1  # an empty frame is still a message
    assert ic.increments(32 * 1024, 32 * 1024) == 1
    assert ic.increments(32 * 1024 + 1, 32 * 1024) == 2
    assert ic.increments(600 * 1024, 512 * 1024) == 2


# ------------------------------------------------------------------ DynamoDB
def test_item_size_follows_dynamodbs_rules(ic: ModuleType) -> None:
    assert ic.item_size({"id": s("abc")}) == 2 + 3
    assert ic.item_size({"nom": s("é")}) == 3 + 2  # UTF-8 bytes, names included
    assert ic.number_size("0") == 1
    assert ic.number_size("1700000000000") == math.ceil(2 / 2) + 1  # trailing zeros are not significant
    assert ic.number_size("123456") == 3 + 1
    assert ic.number_size("-12.5") == 2 + 1 + 1
    assert ic.value_size({"BOOL": True}) == 1 and ic.value_size({"NULL": True}) == 1
    assert ic.value_size({"B": "AAEC"}) == 3  # base64 of 3 bytes
    assert ic.value_size({"SS": ["a", "bc"]}) == 3
    assert ic.value_size({"L": [s("ab"), {"N": "7"}]}) == 3 + (2 + 1) + (2 + 1)
    assert ic.value_size({"M": {"k": s("v")}}) == 3 + (1 + 1 + 1)
    assert ic.item_size(None) == 0


def test_write_units_round_each_item_up_to_the_started_kilobyte(ic: ModuleType) -> None:
    assert ic.write_units(0) == 1  # deleting a missing item, or a failed condition on nothing
    assert ic.write_units(1) == 1
    assert ic.write_units(1024) == 1
    assert ic.write_units(1025) == 2
    small, big = {"id": s("x")}, {"id": s("x"), "blob": s("y" * 1500)}
    assert ic.table_write_units(small, big) == 2  # the larger of before and after
    assert ic.table_write_units(big, None) == 2  # a delete pays for what it removed


def test_read_units_round_up_per_4kb_and_halve_when_eventually_consistent(ic: ModuleType) -> None:
    assert ic.read_units(0, consistent=True) == 1.0  # a read of nothing still costs a unit
    assert ic.read_units(0, consistent=False) == 0.5
    assert ic.read_units(4096, consistent=True) == 1.0
    assert ic.read_units(4097, consistent=True) == 2.0
    assert ic.read_units(4097, consistent=False) == 1.0
    # A Query adds its items' sizes, then rounds once: 3 items of 1.5 KB = 4.5 KB = 2 units (not 3)
    assert ic.read_units(3 * 1536, consistent=True) == 2.0


def test_index_writes_cost_what_each_gsi_entry_changes(ic: ModuleType) -> None:
    keys = ("id",)
    everything = ic.IndexSpec("by_tenant", ("tenant_id", "created_sk"), "ALL")
    sparse = ic.IndexSpec("eligible", ("eligible_pk", "priority_sk"), "INCLUDE", ("lock_expires_at_ms",))
    indexes = (everything, sparse)
    item = {"id": s("i1"), "tenant_id": s("t"), "created_sk": s("c"), "eligible_pk": s("E"), "priority_sk": s("1"),
            "lock_expires_at_ms": {"N": "1"}, "qr": s("q" * 1900)}
    renewed = {**item, "lock_expires_at_ms": {"N": "2"}}
    # A lock renewal: the ALL index rewrites the whole (2 KB) item, the INCLUDE one its small entry
    assert ic.index_write_units(item, renewed, keys, indexes) == 2 + 1
    # A change nothing projects or keys: the ALL index pays, the INCLUDE one does not
    assert ic.index_write_units(item, {**item, "qr": s("r" * 1900)}, keys, indexes) == 2
    # Leaving a sparse index (its key removed) is one write; joining it is one
    left = {k: v for k, v in renewed.items() if k != "eligible_pk"}
    assert ic.index_write_units(renewed, left, keys, (sparse,)) == 1
    assert ic.index_write_units(left, renewed, keys, (sparse,)) == 1
    # An index key changed: delete the old entry and put the new one
    assert ic.index_write_units(renewed, {**renewed, "priority_sk": s("2")}, keys, (sparse,)) == 2
    # Not in the index before or after: nothing
    assert ic.index_write_units(left, left, keys, (sparse,)) == 0
    assert sparse.entry(item, keys) == {"id": s("i1"), "eligible_pk": s("E"), "priority_sk": s("1"),
                                        "lock_expires_at_ms": {"N": "1"}}


def test_a_query_reads_the_whole_items_not_what_it_projects(ic: ModuleType) -> None:
    payload = {"TableName": "t", "IndexName": "owner_queue", "KeyConditionExpression": "queue_owner = :o",
               "ExpressionAttributeValues": {":o": s("me"), ":f": s("x")}, "FilterExpression": "a = :f",
               "ProjectionExpression": "#i", "ExpressionAttributeNames": {"#i": "id"}, "Limit": 200, "Select": "COUNT"}
    assert ic._full_read(payload) == {"TableName": "t", "IndexName": "owner_queue", "Limit": 200,
                                      "KeyConditionExpression": "queue_owner = :o",
                                      "ExpressionAttributeValues": {":o": s("me")}}


# ------------------------------------------------------------------ scaling to an instance-month
def test_per_instance_month_shares_a_sidecars_hourly_cost(ic: ModuleType, prices: object) -> None:
    # The long-poll's Lambda alone: a 512 MB function busy the whole hour = 1,800 GB-s per sidecar-hour
    hourly = sum(ic.dollars(ic.Units(lambda_gb_seconds=1800), prices).values())
    assert ic.per_instance_month(hourly, 1, prices) == pytest.approx(1800 * 0.0000133334 * 730)  # $17.52
    assert ic.per_instance_month(hourly, 10, prices) == pytest.approx(1800 * 0.0000133334 * 73)
    # One renewal of 1 WRU every 15 s per instance is already ~$0.11 per instance-month
    renewals = ic.dollars(ic.Units(ddb_wru=240), prices)["ddb_wru"]
    assert ic.per_instance_month(renewals * 10, 10, prices) == pytest.approx(240 * 0.625e-6 * 730)


def test_extrapolation_is_linear_and_never_cheaper_with_more_instances(ic: ModuleType) -> None:
    at_1 = ic.Units(http_requests=1000, ddb_wru=300, lambda_gb_seconds=1800)
    at_10 = ic.Units(http_requests=1090, ddb_wru=3000, lambda_gb_seconds=1790)  # noise: GB-s went down
    at_100 = ic.extrapolate(at_1, at_10, 100)
    assert at_100.http_requests == pytest.approx(1990)
    assert at_100.ddb_wru == pytest.approx(30_000)
    assert at_100.lambda_gb_seconds == pytest.approx(1790)  # a negative slope is held flat


def test_stream_weights_count_a_periodic_stream_by_the_share_of_the_window(ic: ModuleType) -> None:
    every_15 = [1.0, 16.0, 31.0, 46.0]
    assert sum(ic.stream_weights(every_15, 10.0, 40.0)) == pytest.approx(2.0)  # 30 s / 15 s, whatever the phase
    assert sum(ic.stream_weights(every_15, 12.0, 32.0)) == pytest.approx(20 / 15)
    # no event before the window: the first one stands for the unseen predecessor's share too
    assert sum(ic.stream_weights([5.0, 20.0, 35.0], 0.0, 30.0)) == pytest.approx(2.0)
    # a stream that began well inside the window gets no share before it began
    assert sum(ic.stream_weights([25.0, 26.0, 27.0], 0.0, 28.0)) == pytest.approx(3.0)
    assert ic.stream_weights([5.0], 0.0, 30.0) == [1.0]
    assert ic.stream_weights([], 0.0, 30.0) == []
    assert ic.clipped(0.0, 100.0, 10.0, 40.0) == 30.0


def test_the_design_env_keeps_production_intervals_and_compresses_only_the_sidecars(ic: ModuleType) -> None:
    defaults = {"WAKE_MODE": "push", "PUSH_KEEPALIVE_MS": 300_000, "PUSH_ROTATE_MS": 6_600_000,
                "DISCOVERY_IDLE_MS": 60_000, "WORKER_SETTINGS_REFRESH_MS": 300_000, "PRESENCE_INTERVAL_MS": 60_000}
    push = ic.design_env("push", defaults, 10, 300)
    assert (push["INSTANCE_LOCK_TTL_MS"], push["QUEUE_POLL_MS"]) == ("30000", "2000")  # real time
    assert push["DISCOVERY_POLL_MS"] == "1000" and push["DISCOVERY_IDLE_MS"] == "6000"
    assert push["PUSH_KEEPALIVE_MS"] == "1000" and push["PUSH_ROTATE_MS"] == "22000"
    assert ic.push_scale(defaults, push) == {"keepalive": 300.0, "rotation": 300.0}
    seed = ic.design_env("seed", defaults, 10, 300)
    assert seed["WAKE_MODE"] == "longpoll" and seed["WORKER_SETTINGS_REFRESH_MS"] == "0"
    # a tree without the push channel: no push settings at all
    assert "WAKE_MODE" not in ic.design_env("longpoll", {"PRESENCE_INTERVAL_MS": 60_000}, 10, 300)
    assert ic.push_missing({"PRESENCE_INTERVAL_MS": 60_000}).startswith("not in this tree")


def test_kinds_driven_by_compressed_intervals_are_scaled_back(ic: ModuleType) -> None:
    assert ic.driver_of("seed", "GET /worker-proxy/eligible-instances") == "discovery"
    assert ic.driver_of("seed", "GET /worker-proxy/queued-messages") == "real"
    assert ic.driver_of("longpoll", "GET /worker-proxy/queued-messages") == "excluded"  # the safety net, calculated
    assert ic.driver_of("push", "ws SidecarPushApi $default") == "keepalive"
    assert ic.driver_of("push", "ws SidecarPushApi $connect") == "rotation"
    assert ic.driver_of("push", "POST /worker-proxy/heartbeat (wake)") == "rotation"
    assert ic.driver_of("push", "POST /worker-proxy/heartbeat (renewal)") == "real"
    assert ic.plan(["longpoll", "push", "seed"], [1, 10]) == [
        ("longpoll", 1), ("longpoll", 10), ("push", 10), ("push", 1), ("seed", 1), ("seed", 10)]


def test_snapstart_idle_cost_is_the_cache_price_for_every_second_of_a_month() -> None:
    snapstart = load_bench("idle_cost_snapstart")
    # 0.5 GB x $0.0000015046 per GB-second x 730 h x 3600 s = $1.977: what SnapStart=on bills a 512 MB function idle.
    assert math.isclose(snapstart.month_per_function(512, 0.0000015046, 730), 1.977, abs_tol=0.001)
    memory = snapstart.functions_memory()
    assert memory["PublicApiFunction"] == 512 and memory["SidecarPushFunction"] == 256
