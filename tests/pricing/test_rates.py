"""Rate cards: parsing, replacing a plan's rates, and the per-process rate book cache."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest
from sqlalchemy import select

from smsgate.db import Database
from smsgate.errors import InvalidRequest
from smsgate.pricing.models import PricePlan, Rate
from smsgate.pricing.service import (
    ANY_MCC,
    RateBook,
    RateBooks,
    RateFileError,
    RateRow,
    list_rates,
    parse_rate_csv,
    replace_rates,
)

HEADER = "mcc,mnc,country,network,price\n"


def parse(text: str) -> list[RateRow]:
    return list(parse_rate_csv(text))


def rows(*lines: str) -> list[RateRow]:
    return parse(HEADER + "".join(f"{line}\n" for line in lines))


# --------------------------------------------------------------------- parse_rate_csv


def test_parse_a_rate_card() -> None:
    parsed = rows(
        "247,,Latvia,,0.04",
        "247,01,Latvia,LMT,0.03",
        " 310 , 005 , United States , Verizon , 0.0075 ",
        "*,,Anywhere,,0.10",
    )
    assert parsed == [
        RateRow("247", None, "Latvia", "", Decimal("0.04")),  # empty mnc: the country default
        RateRow("247", "01", "Latvia", "LMT", Decimal("0.03")),  # leading zero kept
        RateRow("310", "005", "United States", "Verizon", Decimal("0.0075")),
        RateRow(ANY_MCC, None, "Anywhere", "", Decimal("0.10")),  # the catch-all
    ]
    assert all(isinstance(r.price, Decimal) for r in parsed)
    assert parsed[1].mnc != parsed[2].mnc


def test_parse_mnc_01_and_001_are_distinct_and_kept_as_text() -> None:
    parsed = rows("310,01,A,,0.01", "310,001,B,,0.02", "310,010,C,,0.03")
    assert [r.mnc for r in parsed] == ["01", "001", "010"]


def test_parse_header_is_case_and_space_insensitive_and_order_free() -> None:
    text = " Price ,MNC,mcc, Network ,COUNTRY,comment\n0.05,02,247,Tele2,Latvia,hi\n"
    assert parse(text) == [RateRow("247", "02", "Latvia", "Tele2", Decimal("0.05"))]


def test_parse_rounds_prices_to_micro_units_half_up() -> None:
    assert rows("247,,Latvia,,0.12345650")[0].price == Decimal("0.123457")


def test_parse_header_only_is_empty() -> None:
    assert parse(HEADER) == []


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("mcc,mnc,country,network\n247,,Latvia,,\n", "price"),
        ("mcc,price\n247,0.04\n", "mnc, country, network"),
        ("", "mcc, mnc, country, network, price"),
        ("247,,Latvia,,0.04\n", "mcc, mnc, country, network, price"),  # no header at all
    ],
)
def test_parse_header_missing_columns(text: str, missing: str) -> None:
    with pytest.raises(RateFileError) as caught:
        parse(text)
    assert caught.value.message == f"line 1: the header lacks the column(s) {missing}"


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("24,,Latvia,,0.04", "mcc '24' is not three digits"),
        ("2470,,Latvia,,0.04", "mcc '2470'"),
        ("abc,,Latvia,,0.04", "mcc 'abc'"),
        (",,Latvia,,0.04", "mcc ''"),
        ("２４７,,Latvia,,0.04", "mcc '２４７'"),  # fullwidth digits are digits to str.isdigit
        ("24²,,Latvia,,0.04", "mcc '24²'"),
        ("247,1,Latvia,,0.04", "mnc '1' is not two or three digits"),
        ("247,０１,Latvia,,0.04", "mnc '０１'"),
        ("247,0001,Latvia,,0.04", "mnc '0001'"),
        ("247,x1,Latvia,,0.04", "mnc 'x1'"),
        ("*,01,Anywhere,,0.04", "the catch-all mcc * takes no mnc"),
        ("247,,Latvia,,abc", "price 'abc' is not an amount"),
        ("247,,Latvia,,", "price '' is not an amount"),
        ("247,,Latvia,,-0.01", "price '-0.01' is not an amount"),
        ("247,,Latvia,,NaN", "price 'NaN'"),
        ("247,,Latvia,,1e400", "price '1e400'"),
        ("247,,Latvia", "price None is not an amount"),  # a short row
        ("247,01,Latvia,LMT,0.05", "a second rate for mcc 247 mnc 01"),
        ("257,,Belarus,,0.05", "a second rate for mcc 257 mnc (default)"),
    ],
)
def test_parse_errors_name_the_line(bad: str, fragment: str) -> None:
    # the bad row is the 5th line of the file (header, three good rows, then it)
    text = HEADER + "247,01,Latvia,LMT,0.03\n257,,Belarus,,0.06\n*,,Anywhere,,0.2\n" + bad + "\n"
    with pytest.raises(RateFileError) as caught:
        parse(text)
    assert caught.value.message.startswith("line 5: ")
    assert fragment in caught.value.message
    assert caught.value.code == "invalid_rate_file"
    assert isinstance(caught.value, InvalidRequest)


def test_parse_line_numbers_count_physical_lines() -> None:
    # a quoted network name over two lines: the next row is on line 5 of the file
    text = HEADER + '247,01,Latvia,"LMT\n(Latvijas Mobilais)",0.03\n247,,Latvia,,x\n'
    with pytest.raises(RateFileError, match=r"^line 4: price 'x'"):
        parse(text)


def test_parse_is_lazy_and_stops_at_the_first_bad_line() -> None:
    parsed = parse_rate_csv(HEADER + "247,,Latvia,,0.04\nbad,,,,\n247,,Latvia,,0.05\n")
    assert next(parsed).mcc == "247"
    with pytest.raises(RateFileError, match=r"^line 3: "):
        next(parsed)


def test_parse_csv_module_errors_become_rate_file_errors() -> None:
    huge = "x" * (csv.field_size_limit() + 1)
    with pytest.raises(RateFileError, match=r"^line 3: field larger than field limit"):
        parse(HEADER + "247,,Latvia,,0.04\n" + f"257,,{huge},,0.05\n")
    with pytest.raises(RateFileError, match=r"^line 1: field larger than field limit"):
        parse(f"mcc,mnc,country,network,price,{huge}\n")


# --------------------------------------------------------------------- replace_rates


def _plan(db: Database, name: str) -> PricePlan | None:
    with db.read() as session:
        return session.scalar(select(PricePlan).where(PricePlan.name == name))


def _rates(db: Database, plan_id: int) -> list[tuple[str, str | None, Decimal]]:
    with db.read() as session:
        return [(r.mcc, r.mnc, r.price) for r in list_rates(session, plan_id)]


def test_replace_rates_creates_then_replaces(db: Database) -> None:
    with db.write() as session:
        created = replace_rates(
            session, "gold", rows("247,,Latvia,,0.04", "247,01,Latvia,LMT,0.03")
        )
    plan = _plan(db, "gold")
    assert plan is not None
    assert plan.id == created.id
    first_version = plan.version
    assert _rates(db, plan.id) == [("247", None, Decimal("0.04")), ("247", "01", Decimal("0.03"))]

    with db.write() as session:
        again = replace_rates(session, "gold", rows("434,,Uzbekistan,,0.05"))
    assert again.id == plan.id
    assert _rates(db, plan.id) == [("434", None, Decimal("0.05"))]
    replaced = _plan(db, "gold")
    assert replaced is not None
    assert replaced.version == first_version + 1
    assert replaced.updated_at >= plan.updated_at


def test_replace_rates_leaves_other_plans_alone(db: Database, plan: str) -> None:
    standard = _plan(db, plan)
    assert standard is not None
    before = _rates(db, standard.id)
    with db.write() as session:
        replace_rates(session, "other", rows("247,,Latvia,,0.99"))
    assert _rates(db, standard.id) == before


def test_replace_rates_rolls_back_with_the_transaction(db: Database, plan: str) -> None:
    standard = _plan(db, plan)
    assert standard is not None
    before = _rates(db, standard.id)

    def import_then_fail() -> None:
        with db.write() as session:
            replace_rates(session, plan, rows("247,,Latvia,,0.99"))
            raise RuntimeError("the import failed later on")

    with pytest.raises(RuntimeError):
        import_then_fail()
    assert _rates(db, standard.id) == before
    after = _plan(db, plan)
    assert after is not None
    assert after.version == standard.version


def test_replace_rates_in_chunks_reports_progress(db: Database) -> None:
    card = [RateRow(f"{200 + i}", None, f"Country {i}", "", Decimal(i) / 100) for i in range(7)]
    seen: list[int] = []
    with db.write() as session:
        plan = replace_rates(session, "chunky", card, seen.append, chunk=3)
    assert seen == [3, 3, 1]
    assert len(_rates(db, plan.id)) == 7


def test_replace_rates_plan_name_is_trimmed(db: Database) -> None:
    # before the fix, " trim " was looked up as is but stored trimmed: the second import
    # tried to create "trim" again and failed on the unique constraint
    with db.write() as session:
        first = replace_rates(session, " trim ", rows("247,,Latvia,,0.04"))
    with db.write() as session:
        second = replace_rates(session, " trim ", rows("247,,Latvia,,0.05"))
    assert first.id == second.id
    assert _plan(db, "trim") is not None
    assert _rates(db, first.id) == [("247", None, Decimal("0.05"))]


def test_replace_rates_needs_a_plan_name(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="needs a name"), db.write() as session:
        replace_rates(session, "   ", rows("247,,Latvia,,0.04"))


def test_list_rates_filters(db: Database) -> None:
    with db.write() as session:
        plan = replace_rates(
            session,
            "filters",
            rows(
                "247,02,Latvia,Tele2,0.035",
                "247,,Latvia,,0.04",
                "247,01,Latvia,LMT,0.03",
                "257,,Belarus,,0.06",
            ),
        )
    with db.read() as session:

        def keys(**kw: object) -> list[tuple[str, str | None]]:
            return [(r.mcc, r.mnc) for r in list_rates(session, plan.id, **kw)]  # type: ignore[arg-type]

        # the country default first on both databases, then the networks
        assert keys() == [("247", None), ("247", "01"), ("247", "02"), ("257", None)]
        assert keys(mcc="247", mnc="01") == [("247", "01")]
        assert keys(mcc="247", mnc_null=True) == [("247", None)]
        assert keys(country="bela") == [("257", None)]
        assert list_rates(session, None) == []


# --------------------------------------------------------------------- RateBook(s)


def test_rate_book_lookup_order() -> None:
    book = RateBook(
        plan_id=1,
        version=1,
        by_network={
            ("247", "01"): Decimal("0.03"),
            ("247", None): Decimal("0.04"),
            ("257", "02"): Decimal("0"),
            ("257", None): Decimal("0.06"),
            (ANY_MCC, None): Decimal("0.10"),
        },
    )
    assert book.rate("247", "01") == Decimal("0.03")  # the network's own rate
    assert book.rate("247", "02") == Decimal("0.04")  # else the country default
    assert book.rate("247", None) == Decimal("0.04")
    assert book.rate("257", "02") == Decimal("0")  # a free network is free, not "missing"
    assert book.rate("434", "04") == Decimal("0.10")  # else the catch-all
    assert book.rate("434", None) == Decimal("0.10")
    assert book.rate(None, None) == Decimal("0.10")

    no_catch_all = RateBook(plan_id=2, version=1, by_network={("247", None): Decimal("0.04")})
    assert no_catch_all.rate("247", "01") == Decimal("0.04")
    assert no_catch_all.rate("434", None) is None
    assert no_catch_all.rate(None, None) is None


def test_rate_books_cache_reloads_when_the_plan_version_changes(db: Database) -> None:
    with db.write() as session:
        plan_id = replace_rates(
            session,
            "cached",
            rows("247,,Latvia,,0.04", "247,01,Latvia,LMT,0.03", "*,,Anywhere,,0.5"),
        ).id
    books = RateBooks()
    with db.read() as session:
        first = books.get(session, [plan_id])[plan_id]
        assert first.rate("247", "01") == Decimal("0.03")
        assert first.rate("247", "09") == Decimal("0.04")
        assert first.rate("999", None) == Decimal("0.5")
        assert books.get(session, [plan_id, plan_id])[plan_id] is first  # a cache hit

    with db.write() as session:
        replace_rates(session, "cached", rows("247,,Latvia,,0.07"))
    with db.read() as session:
        second = books.get(session, [plan_id])[plan_id]
    assert second is not first
    assert second.version == first.version + 1
    assert second.rate("247", "01") == Decimal("0.07")  # the LMT rate and catch-all are gone
    assert second.rate("999", None) is None
    assert first.rate("247", "01") == Decimal("0.03")  # a book handed out earlier is unchanged


def test_rate_books_cache_is_per_plan(db: Database) -> None:
    with db.write() as session:
        a = replace_rates(session, "a", rows("247,,Latvia,,0.01")).id
        b = replace_rates(session, "b", rows("247,,Latvia,,0.02")).id
    books = RateBooks()
    with db.read() as session:
        both = books.get(session, [a, b])
        assert both[a].rate("247", None) == Decimal("0.01")
        assert both[b].rate("247", None) == Decimal("0.02")
    with db.write() as session:
        replace_rates(session, "b", rows("247,,Latvia,,0.03"))
    with db.read() as session:
        again = books.get(session, [a, b])
    assert again[a] is both[a]
    assert again[b].rate("247", None) == Decimal("0.03")


def test_rate_books_unknown_and_empty(db: Database) -> None:
    books = RateBooks()
    with db.read() as session:
        assert books.get(session, []) == {}
        assert books.get(session, [987654]) == {}


def test_rate_books_read_stored_rates_exactly(db: Database) -> None:
    with db.write() as session:
        plan_id = replace_rates(session, "exact", rows("247,,Latvia,,0.123456")).id
        # the table holds micro-units; nothing on the way back is a float
        stored = session.scalar(select(Rate.price).where(Rate.plan_id == plan_id))
    assert stored == Decimal("0.123456")
    with db.read() as session:
        price = RateBooks().get(session, [plan_id])[plan_id].rate("247", None)
    assert isinstance(price, Decimal)
    assert price == Decimal("0.123456")
