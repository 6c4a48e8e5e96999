"""The fast path of resolution (``numbering._fast``) against the reference path.

The reference is what ``resolve()`` did before the fast path existed: ``_prepare`` and
``_reference`` (``phonenumbers.parse``, ``number_type``, ``carrier.name_for_valid_number``
and the curated tables). The fast path may decline a number (the caller then takes the
reference path), but a place it answers must be exactly the reference's, for numbers of
every region phonenumbers supports, their mutations, and garbage.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import phonenumbers
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from smsgate.numbering import (
    Destination,
    Destinations,
    InvalidNumber,
    _fast,
    _resolve,
    _table,
    resolve,
    resolve_many,
    set_portability_lookup,
)

_TYPES = [getattr(PhoneNumberType, name) for name in dir(PhoneNumberType) if name.isupper()]


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


@cache
def _examples() -> tuple[str, ...]:
    """E.164 digits of phonenumbers' example number of every type of every region and of
    every non-geographic calling code."""
    found: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in _TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.add(_e164(number))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.add(_e164(number))
    return tuple(sorted(found))


def _reference(raw: str) -> Destination | str:
    """The reference resolution of ``raw`` (no default region): its destination, or the
    reason it is invalid."""
    try:
        text, region = _resolve._prepare(raw, None)
        return _resolve._reference(text, region)
    except InvalidNumber as error:
        return error.reason


def _fast_destination(digits: str) -> Destination | None:
    place = _fast.place_of_digits(digits)
    return None if place is None else _resolve._at(digits, place)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    """An example number, then up to three edits: a digit changed, inserted or deleted,
    or the end cut off or extended."""
    digits = list(draw(st.sampled_from(_examples())))
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(st.sampled_from(["change", "insert", "delete", "cut", "extend"]))
        digit = draw(st.sampled_from("0123456789"))
        at = draw(st.integers(0, len(digits)))
        if edit == "change" and at < len(digits):
            digits[at] = digit
        elif edit == "insert":
            digits.insert(at, digit)
        elif edit == "delete" and at < len(digits) and len(digits) > 1:
            del digits[at]
        elif edit == "cut" and len(digits) > 2:
            del digits[draw(st.integers(1, len(digits) - 1)) :]
        elif edit == "extend":
            digits.extend(draw(st.text(alphabet="0123456789", min_size=1, max_size=4)))
    return "".join(digits)


@st.composite
def _after_calling_code(draw: st.DrawFn) -> str:
    """A known calling code and random digits: lengths and ranges no example covers."""
    code = draw(st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)))
    return f"{code}{draw(st.text(alphabet='0123456789', min_size=0, max_size=18))}"


_DIGITS = st.one_of(
    _mutated(), _after_calling_code(), st.text(alphabet="0123456789", min_size=0, max_size=22)
)


def test_every_example_number_agrees_and_most_take_the_fast_path() -> None:
    declined: list[str] = []
    for digits in _examples():
        reference = _reference("+" + digits)
        fast = _fast_destination(digits)
        if fast is None:
            declined.append(digits)
        else:
            assert fast == reference, digits
    # The fast path declines only numbers whose region's national prefix pattern matches
    # them (RU 8..., LT 8..., BY 80...), which parse may strip; they are a few per cent.
    assert len(declined) < 0.05 * len(_examples()), declined


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DIGITS)
@example("37120000000")  # LV Tele2
@example("37125123456")  # LV LMT
@example("998901234567")  # UZ Beeline
@example("79123456789")  # RU mobile
@example("78001234567")  # RU: the national prefix 8 after +7
@example("447400123456")  # GB mobile, +44 shared with GG, IM, JE
@example("14155550123")  # NANPA, regions by area code
@example("80012345678")  # non-geographic +800
@example("0037120000000")
def test_fast_path_answers_what_the_reference_answers(digits: str) -> None:
    fast = _fast_destination(digits)
    reference = _reference("+" + digits)
    valid = isinstance(reference, Destination)
    event("fast" if fast is not None else "declined, valid" if valid else "invalid")
    if fast is not None:
        assert fast == reference


@settings(max_examples=600, deadline=None)
@given(
    st.lists(
        st.one_of(
            _DIGITS,
            _DIGITS.map(lambda d: "+" + d),
            _DIGITS.map(lambda d: "00" + d),
            st.text(alphabet="+0123456789 -().x#\u00a0\u0661", max_size=20),
            st.text(max_size=8),
        ),
        max_size=12,
    )
)
def test_resolve_many_is_resolve_of_each(raws: list[str]) -> None:
    destinations, bad = resolve_many(raws)
    expected: list[Destination] = []
    invalid: list[str] = []
    for raw in raws:
        reference = _reference(raw)
        if isinstance(reference, str):
            invalid.append(raw)
            with pytest.raises(InvalidNumber) as raised:
                resolve(raw)
            assert raised.value.reason == reference
        else:
            expected.append(reference)
            assert resolve(raw) == reference
    assert list(destinations) == expected
    assert bad == invalid
    assert len(destinations) == len(expected)
    assert destinations[:] == expected
    if expected:
        assert destinations[-1] == expected[-1]


def test_destinations_share_one_place_per_network() -> None:
    numbers = ["+37120000000", "+37120000001", "+998901234567", "371 2000 0002"]
    destinations, bad = resolve_many(numbers)
    assert bad == []
    assert isinstance(destinations, Destinations)
    assert destinations.msisdns == ["37120000000", "37120000001", "998901234567", "37120000002"]
    assert list(destinations.kinds) == [0, 0, 1, 0]
    assert [p.network for p in destinations.places] == ["Tele2", "Beeline"]
    assert destinations[1] == resolve("+37120000001")
    assert destinations[::2] == [resolve("+37120000000"), resolve("+998901234567")]


class _Ported:
    def lookup(self, msisdn: str) -> tuple[str, str] | None:
        return ("247", "01") if msisdn.endswith("1") else None


@pytest.fixture
def ported() -> Iterator[None]:
    set_portability_lookup(_Ported())
    yield
    set_portability_lookup(None)


@pytest.mark.usefixtures("ported")
def test_resolve_many_asks_the_portability_hook() -> None:
    numbers = ["+37120000000", "+37120000001", "+37120000011"]
    destinations, _ = resolve_many(numbers)
    assert list(destinations) == [resolve(n) for n in numbers]
    assert [d.network for d in destinations] == ["Tele2", "LMT", "LMT"]


def test_carrier_places_are_remembered_by_the_digits_that_decide_them() -> None:
    """The memo is keyed by the first ``longest`` digits: every number sharing them gets
    the name of the same longest carrier prefix (checked against phonenumbers)."""
    entry = _fast._STARTS["371"]
    assert entry is not None
    assert entry.carriers.longest == max(
        len(p) for p in phonenumbers.carrierdata.CARRIER_DATA if p.startswith("371")
    )
    for digits in ("37120000000", "37120000009", "37125123456", "37126000000"):
        _fast.place_of_digits(digits)
        number = phonenumbers.parse("+" + digits)
        name = phonenumbers.carrier.name_for_valid_number(number, "en")
        place = entry.carriers.memos["LV"][digits[: entry.carriers.longest]]
        assert place.network == (
            _table.load_tables().carriers[("LV", name.casefold())].name if name else None
        )
