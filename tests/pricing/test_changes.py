"""The preview of a rate card import, and its apply only at the previewed version."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smsgate.db import Database
from smsgate.errors import Conflict
from smsgate.pricing import changes
from smsgate.pricing.admin import export_rates, import_rates
from smsgate.pricing.service import RateFileError, RateRow

OLD = """mcc,mnc,country,network,price
247,,Latvia,,0.04
247,01,Latvia,LMT,0.03
257,,Belarus,,0.06
*,,Anywhere,,0.10
"""
NEW = """mcc,mnc,country,network,price
247,,Latvia,,0.045
247,01,Latvia,LMT Group,0.03
250,01,Russia,MTS,0.07
*,,Anywhere,,0.10
"""


def test_compare_sorts_rates_into_added_changed_removed() -> None:
    old = [RateRow("247", None, "Latvia", "", Decimal("0.04")),
           RateRow("257", None, "Belarus", "", Decimal("0.06"))]  # fmt: skip
    new = [RateRow("247", None, "Latvia", "", Decimal("0.040")),
           RateRow("247", "02", "Latvia", "Tele2", Decimal("0.05"))]  # fmt: skip
    found = changes.compare("p", 3, old, new)
    assert [(c.mcc, c.mnc, c.old, c.new) for c in found.added] == [
        ("247", "02", None, Decimal("0.05"))
    ]
    assert [(c.mcc, c.old, c.new) for c in found.removed] == [("257", Decimal("0.06"), None)]
    assert found.changed == [] and found.unchanged == 1  # 0.040 is 0.04
    assert (found.rates, found.version, found.any) == (2, 3, True)


def test_preview_then_apply(db: Database) -> None:
    with db.write() as session:
        import_rates(session, "retail", OLD, actor="test")
    with db.read() as session:
        found = changes.preview_import(session, "retail", NEW)
        before = export_rates(session, "retail")
    assert [(c.mcc, c.mnc) for c in found.added] == [("250", "01")]
    assert [(c.mcc, c.mnc, c.old, c.new) for c in found.changed] == [
        ("247", None, Decimal("0.04"), Decimal("0.045")),
        ("247", "01", Decimal("0.03"), Decimal("0.03")),  # renamed: shown as changed
    ]
    assert [(c.mcc, c.country, c.old) for c in found.removed] == [
        ("257", "Belarus", Decimal("0.06"))
    ]
    assert found.unchanged == 1 and found.rates == 4
    with db.read() as session:
        assert export_rates(session, "retail") == before  # a preview changes nothing
    with db.write() as session:
        plan, count = changes.apply_previewed(
            session, "retail", NEW, version=found.version, actor="test"
        )
        assert count == 4 and plan.version == (found.version or 0) + 1
    with db.write() as session, pytest.raises(Conflict, match="changed after this preview"):
        changes.apply_previewed(session, "retail", OLD, version=found.version, actor="test")
    with db.read() as session:
        assert not changes.preview_import(session, "retail", NEW).any


def test_a_new_plan_is_previewed_and_checked_like_the_import(db: Database) -> None:
    with db.read() as session:
        found = changes.preview_import(session, "brand new", OLD)
        assert found.version is None and len(found.added) == 4 and not found.removed
        with pytest.raises(RateFileError, match="line 3: mcc"):
            changes.preview_import(session, "brand new", OLD.replace("247,01", "24x,01"))
        with pytest.raises(RateFileError, match="no rates"):
            changes.preview_import(session, "brand new", "mcc,mnc,country,network,price\n")
        with pytest.raises(Exception, match="not a plan name"):
            changes.preview_import(session, " bad/name", OLD)
    with db.write() as session:
        changes.apply_previewed(session, "brand new", OLD, version=None, actor="test")
    with db.write() as session, pytest.raises(Conflict):
        changes.apply_previewed(session, "brand new", OLD, version=None, actor="test")
