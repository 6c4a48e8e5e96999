"""Quotes: one text to many numbers, priced exactly as acceptance will charge it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsgate.accounts.service import get_account
from smsgate.db import Database
from smsgate.errors import InvalidRequest, NotFound
from smsgate.kit.money import round_money
from smsgate.numbering import Destination, resolve
from smsgate.pricing.quote import Quote, quote
from smsgate.pricing.service import RateBooks, charge_for, parse_rate_csv, replace_rates
from tests.support.factories import make_customer, make_plan

LV_LMT = "+37126123456"  # Latvia LMT, 247/01: the plan has a network rate (0.03)
LV_TELE2 = "+37120000000"  # Latvia Tele2, 247/02: the country default (0.04)
BY = "+375291234567"  # Belarus A1, 257/01: the country default (0.06)
UZ = "+998901234567"  # Uzbekistan Beeline, 434/04: the country default (0.05)
US = "+12025550123"  # no rate in the standard plan

ONE_PART = "Hello from smsgate"
TWO_PARTS = "x" * 161


def text_of(parts: int) -> str:
    return "a" * (153 * parts) if parts > 1 else "a" * 10


def dests(*numbers: str) -> list[Destination]:
    return [resolve(n) for n in numbers]


def priced(
    db: Database,
    account_id: int,
    text: str,
    numbers: list[Destination],
    books: RateBooks | None = None,
) -> Quote:
    with db.read() as session:
        return quote(session, books or RateBooks(), account_id, text, numbers)


def test_quote_groups_numbers_by_destination(db: Database, plan: str) -> None:
    customer = make_customer(db, plan=plan)
    q = priced(db, customer.account_id, ONE_PART, dests(LV_LMT, BY, LV_LMT, UZ, LV_TELE2, BY))
    assert q.segments.parts == 1
    assert q.currency == "EUR"
    summary = [
        (ln.destination, ln.mcc, ln.mnc, ln.rate, ln.numbers, ln.parts, ln.subtotal)
        for ln in q.lines
    ]
    assert summary == [  # in order of first appearance
        (
            "Latvia LMT",
            "247",
            "01",
            Decimal("0.03"),
            ["37126123456", "37126123456"],
            2,
            Decimal("0.06"),
        ),
        (
            "Belarus A1",
            "257",
            "01",
            Decimal("0.06"),
            ["375291234567", "375291234567"],
            2,
            Decimal("0.12"),
        ),
        ("Uzbekistan Beeline", "434", "04", Decimal("0.05"), ["998901234567"], 1, Decimal("0.05")),
        ("Latvia Tele2", "247", "02", Decimal("0.04"), ["37120000000"], 1, Decimal("0.04")),
    ]
    assert q.parts == 6
    assert q.subtotal == Decimal("0.27")
    assert q.tax == Decimal(0)
    assert q.total == Decimal("0.27")
    assert q.total == sum((ln.total for ln in q.lines), Decimal(0))


def test_quote_multipart_and_tax(db: Database, plan: str) -> None:
    customer = make_customer(db, plan=plan, tax_rate=Decimal("0.21"))
    q = priced(db, customer.account_id, TWO_PARTS, dests(LV_LMT, UZ, UZ))
    assert q.segments.parts == 2
    lmt, uz = q.lines
    assert (lmt.parts, lmt.subtotal, lmt.tax) == (2, Decimal("0.06"), Decimal("0.0126"))
    assert (uz.parts, uz.subtotal, uz.tax) == (4, Decimal("0.20"), Decimal("0.042"))
    assert lmt.total == Decimal("0.0726")
    assert q.parts == 6
    assert q.subtotal == Decimal("0.26")
    assert q.tax == Decimal("0.0546")
    assert q.total == Decimal("0.3146")


def test_quote_tax_is_rounded_per_message_like_the_charge(db: Database) -> None:
    make_plan(db, "odd", "mcc,mnc,country,network,price\n247,,Latvia,,0.000003\n")
    customer = make_customer(db, plan="odd", tax_rate=Decimal("0.5"))
    q = priced(db, customer.account_id, ONE_PART, dests(LV_LMT, LV_LMT, LV_LMT))
    # each message: net 0.000003, tax 0.0000015 -> 0.000002 (half up); three of them
    net, tax = charge_for(1, Decimal("0.000003"), Decimal("0.5"))
    assert (net, tax) == (Decimal("0.000003"), Decimal("0.000002"))
    assert q.tax == 3 * tax == Decimal("0.000006")
    assert q.total == Decimal("0.000015")


def test_quote_without_a_rate_is_refused(db: Database, plan: str) -> None:
    customer = make_customer(db, plan=plan)
    with pytest.raises(InvalidRequest) as caught:
        priced(db, customer.account_id, ONE_PART, dests(LV_LMT, US))
    assert caught.value.code == "no_rate"
    assert "+12025550123" in caught.value.message


def test_quote_without_a_plan_is_refused(db: Database, plan: str) -> None:
    customer = make_customer(db, plan=None)
    with pytest.raises(InvalidRequest) as caught:
        priced(db, customer.account_id, ONE_PART, dests(LV_LMT))
    assert caught.value.code == "no_rate"


def test_quote_catch_all_rate(db: Database) -> None:
    make_plan(db, "flat", "mcc,mnc,country,network,price\n*,,Anywhere,,0.07\n247,,Latvia,,0.04\n")
    customer = make_customer(db, plan="flat")
    q = priced(db, customer.account_id, ONE_PART, dests(US, LV_LMT))
    assert [(ln.destination, ln.rate) for ln in q.lines] == [
        ("United States", Decimal("0.07")),
        ("Latvia LMT", Decimal("0.04")),
    ]


def test_quote_refuses_empty_text_and_unknown_account(db: Database, plan: str) -> None:
    customer = make_customer(db, plan=plan)
    with pytest.raises(InvalidRequest) as caught:
        priced(db, customer.account_id, "", dests(LV_LMT))
    assert caught.value.code == "text_required"
    with pytest.raises(NotFound):
        priced(db, 987654, ONE_PART, dests(LV_LMT))


def test_quote_of_no_numbers_is_zero(db: Database, plan: str) -> None:
    customer = make_customer(db, plan=plan)
    q = priced(db, customer.account_id, ONE_PART, [])
    assert (q.lines, q.parts, q.total) == ([], 0, Decimal(0))
    assert isinstance(q.total, Decimal)


def test_quote_networks_sharing_a_name_keep_their_own_rates(db: Database) -> None:
    """Germany's O2 is both 262/03 and 262/07; acceptance prices by MCC/MNC, so must quotes.

    Before the fix lines were keyed by the display name only: the second O2 number was
    priced at the first one's rate.
    """
    make_plan(
        db,
        "de",
        "mcc,mnc,country,network,price\n"
        "262,,Germany,,0.09\n262,03,Germany,O2,0.05\n262,07,Germany,O2,0.08\n",
    )
    customer = make_customer(db, plan="de")
    o2_07 = resolve("+4917612345678")
    assert (o2_07.name, o2_07.mcc, o2_07.mnc) == ("Germany O2", "262", "07")
    # as a number ported to 262/03 resolves (through a portability lookup)
    o2_03 = Destination(
        msisdn="4917612345679",
        country="DE",
        country_name="Germany",
        mcc="262",
        mnc="03",
        network="O2",
    )
    q = priced(db, customer.account_id, ONE_PART, [o2_03, o2_07, o2_07])
    assert [(ln.destination, ln.mnc, ln.rate, len(ln.numbers)) for ln in q.lines] == [
        ("Germany O2", "03", Decimal("0.05"), 1),
        ("Germany O2", "07", Decimal("0.08"), 2),
    ]
    assert q.total == Decimal("0.21")


def test_quote_follows_a_replaced_rate_card(db: Database, plan: str) -> None:
    customer = make_customer(db, plan=plan)
    books = RateBooks()
    assert priced(db, customer.account_id, ONE_PART, dests(UZ), books).total == Decimal("0.05")
    make_plan(db, plan, "mcc,mnc,country,network,price\n434,,Uzbekistan,,0.055\n")
    assert priced(db, customer.account_id, ONE_PART, dests(UZ), books).total == Decimal("0.055")


# ------------------------------------------------------------------ the property

RATE = st.decimals(
    min_value=0, max_value=Decimal("2"), places=4, allow_nan=False, allow_infinity=False
)
TAX = st.decimals(
    min_value=0, max_value=Decimal("0.3"), places=4, allow_nan=False, allow_infinity=False
)


@pytest.fixture
def books() -> RateBooks:
    """One cache over all of a test's examples, as in a process: it must follow each new card."""
    return RateBooks()


@pytest.fixture
def account_id(db: Database, plan: str) -> int:
    return make_customer(db, plan=plan).account_id


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lv_default=RATE,
    lv_lmt=RATE,
    by=RATE,
    uz=RATE,
    tax_rate=TAX,
    parts=st.integers(min_value=1, max_value=10),
    numbers=st.lists(st.sampled_from([LV_LMT, LV_TELE2, BY, UZ]), min_size=1, max_size=8),
)
def test_quote_total_is_what_acceptance_charges(
    db: Database,
    plan: str,
    books: RateBooks,
    account_id: int,
    lv_default: Decimal,
    lv_lmt: Decimal,
    by: Decimal,
    uz: Decimal,
    tax_rate: Decimal,
    parts: int,
    numbers: list[str],
) -> None:
    rates = {LV_LMT: lv_lmt, LV_TELE2: lv_default, BY: by, UZ: uz}
    card = (
        "mcc,mnc,country,network,price\n"
        f"247,,Latvia,,{lv_default}\n247,01,Latvia,LMT,{lv_lmt}\n"
        f"257,,Belarus,,{by}\n434,,Uzbekistan,,{uz}\n"
    )
    with db.write() as session:
        replace_rates(session, plan, list(parse_rate_csv(card)))
        get_account(session, account_id).tax_rate = tax_rate

    q = priced(db, account_id, text_of(parts), dests(*numbers), books)

    expected = Decimal(0)
    for number in numbers:  # acceptance: per message, (parts x rate) rounded, plus its tax
        net, tax = charge_for(parts, rates[number], tax_rate)
        expected += net + tax
    assert q.segments.parts == parts
    assert q.parts == parts * len(numbers)
    assert q.total == expected
    assert q.total == sum((ln.total for ln in q.lines), Decimal(0))
    assert q.subtotal == sum((ln.subtotal for ln in q.lines), Decimal(0))
    for value in (q.total, q.subtotal, q.tax, *(ln.total for ln in q.lines)):
        assert isinstance(value, Decimal)
        assert value == round_money(value)  # never more than micro-unit precision
    assert not any(isinstance(v, float) for ln in q.lines for v in (ln.rate, ln.subtotal, ln.tax))
