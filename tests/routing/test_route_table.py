from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from smsgate.errors import InvalidRequest
from smsgate.routing.models import Strategy
from smsgate.routing.service import (
    CompiledRoute,
    RouteTable,
    RoutingFacts,
    Target,
    parse_targets,
)

LV = RoutingFacts(1, 7, "37126123456", "LV", "247", "01", "ACME", "default")
UZ = RoutingFacts(2, 8, "998901234567", "UZ", "434", "05", "INFO", "twilio")


def route(
    id_: int,
    targets: str,
    strategy: Strategy = Strategy.PRIORITY,
    priority: int = 100,
    **conditions: object,
) -> CompiledRoute:
    names = ("account_id", "plan_id", "country", "mcc", "mnc", "prefix", "sender", "requested_type")
    fields: dict[str, object] = dict.fromkeys(names)
    fields.update(conditions)
    return CompiledRoute(id_, priority, strategy, parse_targets(targets), **fields)


def everyone(_: str) -> bool:
    return True


def no_cost(_: str, __: RoutingFacts) -> Decimal | None:
    return None


def test_no_routes_means_the_simulator() -> None:
    table = RouteTable()
    assert table.routable(LV)
    assert table.candidates(LV, everyone, no_cost) == ["simulator"]


def test_first_matching_route_by_priority_and_conditions() -> None:
    table = RouteTable(
        [
            route(1, "general", priority=200),
            route(2, "latvia", country="LV", priority=50),
            route(3, "twilio-up", requested_type="twilio", priority=10),
            route(4, "prefix", prefix="99890", priority=20, account_id=2),
        ]
    )
    assert table.candidates(LV, everyone, no_cost) == ["latvia"]
    assert table.candidates(UZ, everyone, no_cost) == ["twilio-up"]
    other = RoutingFacts(3, None, "4512345678", "DK", "238", None, "X", "default")
    assert table.candidates(other, everyone, no_cost) == ["general"]


def test_no_match_is_not_routable() -> None:
    table = RouteTable([route(1, "latvia", country="LV")])
    assert table.routable(LV)
    assert not table.routable(UZ)
    assert table.candidates(UZ, everyone, no_cost) == []


def test_failover_skips_unhealthy_connectors() -> None:
    table = RouteTable([route(1, "a,b,c")])
    assert table.candidates(LV, lambda n: n != "a", no_cost) == ["b", "c"]
    assert table.candidates(LV, lambda n: False, no_cost) == []


def test_weighted_round_robin_follows_weights() -> None:
    table = RouteTable([route(1, "a:3,b:1", Strategy.WEIGHTED)])
    firsts = Counter(table.candidates(LV, everyone, no_cost)[0] for _ in range(400))
    assert firsts == {"a": 300, "b": 100}


def test_least_cost_picks_the_cheapest_known_cost() -> None:
    table = RouteTable([route(1, "dear,cheap,unknown", Strategy.LEAST_COST)])
    costs = {"dear": Decimal("0.05"), "cheap": Decimal("0.01")}
    assert table.candidates(LV, everyone, lambda n, _: costs.get(n)) == ["cheap", "dear", "unknown"]


@pytest.mark.parametrize("bad", ["", " , ", "a:0", "a:x"])
def test_bad_connector_lists(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_targets(bad)


def test_targets_parse() -> None:
    assert parse_targets("a:2, b") == (Target("a", 2), Target("b", 1))
