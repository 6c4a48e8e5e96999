"""Tests for smsgate.numbering: normalisation, resolution and the bundled tables."""

from __future__ import annotations

import csv
import pickle
import random
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from importlib import resources

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers import carrier as pn_carrier
from phonenumbers.carrierdata import CARRIER_DATA

from smsgate.numbering import (
    Destination,
    InvalidNumber,
    _resolve,
    _table,
    normalize,
    resolve,
    set_portability_lookup,
)

# --------------------------------------------------------------------------- helpers


def _data_rows(filename: str) -> list[dict[str, str]]:
    text = (
        resources.files("smsgate.numbering").joinpath("data", filename).read_text(encoding="utf-8")
    )
    return list(csv.DictReader(text.splitlines()))


COUNTRY_ROWS = _data_rows("countries.csv")
NETWORK_ROWS = _data_rows("networks.csv")
COUNTRY_MCC = {row["country"]: row["mcc"] for row in COUNTRY_ROWS}

# MCCs a country has besides its primary one (ITU-T E.212), as far as the
# network table uses them.
SECOND_MCCS = {
    "IN": {"405", "406"},
    "US": {"311", "312", "313", "314", "315", "316"},
    "GB": {"235"},
    "AE": {"430", "431"},
    "JP": {"441"},
}

# Carrier names in networks.csv that phonenumbers does not (or no longer) use,
# kept on purpose: rebrands its data has not caught up with, and the names of
# older phonenumbers releases (pyproject allows phonenumbers>=8.13).
ALIASES_NOT_IN_PHONENUMBERS = {
    ("BY", "A1"),  # velcom rebranded to A1 in 2019; phonenumbers still says "Velcom"
    ("KZ", "Tele2"),  # phonenumbers now says "T2"
}

# The languages resolve() reads carrier names in, per region.
_LANGUAGES = ("en", *_resolve._FALLBACK_LANGUAGE.values())


@pytest.fixture(autouse=True)
def _no_portability_hook() -> Iterator[None]:
    set_portability_lookup(None)
    yield
    set_portability_lookup(None)


@cache
def _carrier_prefixes() -> dict[tuple[str, str], list[str]]:
    """(country calling code, case-folded carrier name) -> carrier-data prefixes."""
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for prefix, names in CARRIER_DATA.items():
        for cc_len in (1, 2, 3):
            if int(prefix[:cc_len]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                break
        for lang in _LANGUAGES:
            if lang in names:
                index[(prefix[:cc_len], names[lang].casefold())].append(prefix)
    return index


def _sample_number(country: str, carrier_name: str) -> phonenumbers.PhoneNumber | None:
    """A valid number of ``country`` for which phonenumbers returns ``carrier_name``."""
    cc = phonenumbers.country_code_for_region(country)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(country)
    assert metadata is not None
    assert metadata.mobile is not None
    assert metadata.general_desc is not None
    lengths = sorted(
        set(metadata.mobile.possible_length) | set(metadata.general_desc.possible_length)
    )
    wanted = carrier_name.casefold()
    for prefix in _carrier_prefixes().get((str(cc), wanted), []):
        national = prefix[len(str(cc)) :]
        for length in lengths:
            if length < len(national):
                continue
            for fill in "0512349876":
                nsn = national + fill * (length - len(national))
                number = phonenumbers.PhoneNumber(country_code=cc, national_number=int(nsn))
                if phonenumbers.region_code_for_number(number) != country:
                    continue
                if not phonenumbers.is_valid_number(number):
                    continue
                names = {pn_carrier.name_for_number(number, lang).casefold() for lang in _LANGUAGES}
                if wanted in names:
                    return number
    return None


# --------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    "raw",
    [
        "+371 2000 0000",
        "371-2000-0000",
        "0037120000000",
        "(371) 20000000",
        "37120000000",
        "+37120000000",
        "  +371 2000 0000\n",
        "+371.2000.0000",
        "+371\u00a02000\u20130000",  # no-break space, en dash
        "(+371) 2000-0000",
        "00 371 2000 0000",
    ],
)
def test_normalize_accepts_international_formats(raw: str) -> None:
    assert normalize(raw) == "37120000000"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("20000000", "LV", "37120000000"),
        ("2000 0000", "lv", "37120000000"),  # region codes are case-insensitive
        ("+371 2000 0000", "US", "37120000000"),  # international wins over the region
        ("0037120000000", "GB", "37120000000"),
        ("371 2000 0000", "LV", "37120000000"),  # national number written with its cc
        ("8 (912) 345-67-89", "RU", "79123456789"),  # national trunk prefix 8
        ("8 10 371 2000 0000", "RU", "37120000000"),  # Russia's own international prefix
        ("011 371 2000 0000", "US", "37120000000"),
        ("020 7946 0000", "GB", "442079460000"),
        ("06 1234 5678", "IT", "390612345678"),  # Italian leading zero is kept
    ],
)
def test_normalize_national_numbers_with_default_region(
    raw: str, region: str, expected: str
) -> None:
    assert normalize(raw, region) == expected


def test_normalize_drops_a_national_prefix_after_the_country_code() -> None:
    assert normalize("+44 (0)20 7946 0000") == "442079460000"


def test_normalize_accepts_unicode_digits() -> None:
    assert normalize("+٣٧١٢٠٠٠٠٠٠٠") == "37120000000"  # Arabic-Indic digits


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("abc", "it contains letters"),
        ("+371 2000 000O", "it contains letters"),
        ("1-800-FLOWERS", "it contains letters"),
        ("+371 2000 0000 ext. 12", "it contains letters"),
        ("+1", "it is too short"),
        ("+12", "it is too short"),
        ("+", "it contains no digits"),
        ("+371 2000", "it is too short for Latvia"),
        ("+371 2000 0000 0000", "it is too long for Latvia"),
        ("+3712000000000000000000", "it is too long"),
        ("1" * 300, "it is too long"),
        ("12+34", "a '+' may only appear at the start"),
        ("2000#0000", "it contains the character '#'"),
        ("+999 1234 5678", "it does not start with a known country calling code"),
        ("020 7946 0000", "it has no country calling code"),
    ],
)
def test_invalid_numbers_raise_a_clear_message(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalize(raw)
    message = str(caught.value)
    assert message.startswith(f"{raw!r} is not a valid phone number: ")
    assert reason in message
    assert caught.value.raw == raw
    with pytest.raises(InvalidNumber):
        resolve(raw)


def test_normalize_accepts_exactly_what_is_valid_number_accepts() -> None:
    # resolve() tests validity via number_type() != UNKNOWN (which is how
    # phonenumbers implements is_valid_number); check they agree on random input.
    rng = random.Random(7)
    accepted = 0
    for _ in range(3000):
        cc = rng.choice((1, 7, 44, 45, 65, 371, 375, 998, 39, 91, 800, 882))
        nsn = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 12)))
        number = phonenumbers.parse(f"+{cc}{nsn}")
        try:
            normalize(f"+{cc}{nsn}")
        except InvalidNumber:
            assert not phonenumbers.is_valid_number(number), number
        else:
            assert phonenumbers.is_valid_number(number), number
            accepted += 1
    assert accepted > 100


def test_invalid_number_in_an_unused_range() -> None:
    with pytest.raises(InvalidNumber, match=r"not in a number range in use in Latvia"):
        normalize("+371 1000 0000")


def test_invalid_number_is_a_value_error_and_pickles() -> None:
    error = InvalidNumber("x", "it contains letters")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.reason == "it contains letters"


def test_unknown_default_region_is_a_plain_value_error() -> None:
    with pytest.raises(ValueError, match="'XX' is not a region code") as caught:
        normalize("20000000", "XX")
    assert not isinstance(caught.value, InvalidNumber)


def test_non_string_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        resolve(37120000000)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    ("raw", "country", "country_name", "mcc", "mnc", "name"),
    [
        ("+371 29 123 456", "LV", "Latvia", "247", "01", "Latvia LMT"),
        ("+371 25 123 456", "LV", "Latvia", "247", "05", "Latvia Bite"),
        ("+375 29 123 45 67", "BY", "Belarus", "257", "01", "Belarus A1"),  # "Velcom"
        ("+375 44 765 43 21", "BY", "Belarus", "257", "01", "Belarus A1"),
        ("+375 29 234 56 78", "BY", "Belarus", "257", "02", "Belarus MTS"),
        ("+998 90 123 45 67", "UZ", "Uzbekistan", "434", "04", "Uzbekistan Beeline"),
        ("+998 97 765 43 21", "UZ", "Uzbekistan", "434", "07", "Uzbekistan Mobiuz"),
        ("+45 22 12 34 56", "DK", "Denmark", "238", "02", "Denmark Telenor"),
        ("+45 40 12 34 56", "DK", "Denmark", "238", "01", "Denmark TDC"),
        ("+7 926 123 45 67", "RU", "Russia", "250", "02", "Russia MegaFon"),
        ("+7 701 123 45 67", "KZ", "Kazakhstan", "401", "02", "Kazakhstan Kcell"),
    ],
)
def test_resolve_known_networks(
    raw: str, country: str, country_name: str, mcc: str, mnc: str, name: str
) -> None:
    destination = resolve(raw)
    assert destination.country == country
    assert destination.country_name == country_name
    assert (destination.mcc, destination.mnc) == (mcc, mnc)
    assert destination.name == name
    assert destination.msisdn == normalize(raw)


def test_russian_number_with_unknown_carrier_gets_the_country_default() -> None:
    # phonenumbers has no carrier for +7 912 (it is MTS's, but the data lacks it).
    destination = resolve("79123456789")
    assert destination == Destination(
        msisdn="79123456789",
        country="RU",
        country_name="Russia",
        mcc="250",
        mnc=None,
        network=None,
    )
    assert destination.name == "Russia"


def test_fixed_line_numbers_have_no_network() -> None:
    destination = resolve("+44 20 7946 0000")
    assert (destination.country, destination.mcc, destination.mnc) == ("GB", "234", None)
    assert destination.name == "United Kingdom"


def test_russian_only_carrier_names_are_used() -> None:
    # +7 999 is named only in phonenumbers' Russian carrier data ("МегаФон").
    destination = resolve("+7 999 123 45 67")
    assert destination.name == "Russia MegaFon"


def test_non_geographic_numbers() -> None:
    destination = resolve("+800 1234 5678")
    assert destination.country == "001"
    assert destination.mcc == "901"
    assert destination.name == "International Networks"


def test_resolve_accepts_national_numbers_with_default_region() -> None:
    assert resolve("29 123 456", "LV") == resolve("+37129123456")


def test_resolve_is_cached_and_bounded() -> None:
    first = resolve("+371 29 123 456")
    assert resolve("37129123456") == first
    assert resolve("+371 29 123 456") is first
    assert _resolve._destination.cache_info().maxsize == _resolve.CACHE_SIZE == 65_536


def test_destination_is_frozen() -> None:
    destination = resolve("+37129123456")
    with pytest.raises(AttributeError):
        destination.mnc = "02"  # type: ignore[misc]


# --------------------------------------------------------------------------- portability


class FakeLookup:
    def __init__(self, answers: dict[str, tuple[str, str] | None]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def lookup(self, msisdn: str) -> tuple[str, str] | None:
        self.calls.append(msisdn)
        return self.answers.get(msisdn)


def test_portability_hook_overrides_the_network() -> None:
    lmt = "37129123456"
    assert resolve(lmt).name == "Latvia LMT"
    hook = FakeLookup({lmt: ("247", "05")})
    set_portability_lookup(hook)
    destination = resolve("+371 29 123 456")
    assert (destination.mcc, destination.mnc, destination.name) == ("247", "05", "Latvia Bite")
    assert destination.msisdn == lmt
    # asked every time, not cached
    resolve(lmt)
    assert hook.calls == [lmt, lmt]
    # numbers the hook does not know keep their prefix-based network
    assert resolve("+375291234567").name == "Belarus A1"
    set_portability_lookup(None)
    assert resolve(lmt).name == "Latvia LMT"


def test_portability_hook_with_a_network_missing_from_the_table() -> None:
    set_portability_lookup(FakeLookup({"37129123456": ("247", "09")}))
    destination = resolve("37129123456")
    assert (destination.mcc, destination.mnc, destination.network) == ("247", "09", None)
    assert destination.name == "Latvia"


def test_portability_hook_can_name_a_number_phonenumbers_cannot() -> None:
    set_portability_lookup(FakeLookup({"79123456789": ("250", "01")}))
    assert resolve("+7 912 345 67 89").name == "Russia MTS"


@pytest.mark.parametrize("answer", [("247",), ("247", 5), ("24", "05"), ("247", "5"), "24705"])
def test_portability_hook_bad_answers_are_reported(answer: object) -> None:
    set_portability_lookup(FakeLookup({"37129123456": answer}))  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="portability lookup returned"):
        resolve("37129123456")


def test_portability_hook_must_have_a_lookup_method() -> None:
    with pytest.raises(TypeError):
        set_portability_lookup(object())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- data files


def test_countries_cover_every_supported_region() -> None:
    codes = [row["country"] for row in COUNTRY_ROWS]
    assert len(codes) == len(set(codes))
    assert set(codes) == set(phonenumbers.SUPPORTED_REGIONS)
    for row in COUNTRY_ROWS:
        assert len(row["mcc"]) == 3, row
        assert row["mcc"].isdigit(), row
        assert row["name"].strip() == row["name"] != "", row


def test_network_mccs_belong_to_their_country() -> None:
    for row in NETWORK_ROWS:
        allowed = {COUNTRY_MCC[row["country"]]} | SECOND_MCCS.get(row["country"], set())
        assert row["mcc"] in allowed, row
        assert row["mnc"].isdigit(), row
        assert len(row["mnc"]) in (2, 3), row


def test_network_table_covers_the_required_countries() -> None:
    required = {
        *("LV", "LT", "EE", "UZ", "BY", "RU", "KZ", "UA", "DK", "SG", "DE", "GB", "FR"),
        *("PL", "FI", "SE", "NO", "TR", "GE", "AM", "AZ", "KG", "TJ", "IL", "AE", "IN"),
    }
    assert required <= {row["country"] for row in NETWORK_ROWS}


@pytest.mark.parametrize(
    "row",
    [
        row
        for row in NETWORK_ROWS
        if (row["country"], row["carrier"]) not in ALIASES_NOT_IN_PHONENUMBERS
    ],
    ids=lambda row: f"{row['country']}-{row['carrier']}",
)
def test_every_carrier_name_is_one_phonenumbers_returns(row: dict[str, str]) -> None:
    number = _sample_number(row["country"], row["carrier"])
    assert number is not None, (
        f"phonenumbers {phonenumbers.__version__} returns {row['carrier']!r} "
        f"for no valid {row['country']} number"
    )
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    destination = resolve(e164)
    assert destination.country == row["country"]
    assert (destination.mcc, destination.mnc, destination.network) == (
        row["mcc"],
        row["mnc"],
        row["network"],
    )


def test_aliases_still_resolve() -> None:
    tables = _table.load_tables()
    for country, carrier in ALIASES_NOT_IN_PHONENUMBERS:
        assert (country, carrier.casefold()) in tables.carriers


def test_table_parsers_reject_malformed_data() -> None:
    countries = _table.parse_countries("country,mcc,name\nLV,247,Latvia\n")
    with pytest.raises(_table.DataError, match="header"):
        _table.parse_countries("code,mcc,name\nLV,247,Latvia\n")
    with pytest.raises(_table.DataError, match="three digits"):
        _table.parse_countries("country,mcc,name\nLV,24,Latvia\n")
    with pytest.raises(_table.DataError, match="listed twice"):
        _table.parse_countries("country,mcc,name\nLV,247,Latvia\nLV,247,Latvia\n")
    header = "country,carrier,mcc,mnc,network\n"
    with pytest.raises(_table.DataError, match=r"not in countries\.csv"):
        _table.parse_networks(header + "EE,Elisa,248,02,Elisa\n", countries)
    with pytest.raises(_table.DataError, match="two or three digits"):
        _table.parse_networks(header + "LV,LMT,247,1,LMT\n", countries)
    with pytest.raises(_table.DataError, match="named"):
        _table.parse_networks(header + "LV,LMT,247,01,LMT\nLV,Other,247,01,Other\n", countries)
    with pytest.raises(_table.DataError, match="listed twice"):
        _table.parse_networks(header + "LV,LMT,247,01,LMT\nLV,lmt,247,01,LMT\n", countries)


# --------------------------------------------------------------------------- properties

_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
_TYPES = [
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]
_FORMATS = [PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    region=st.sampled_from(_REGIONS),
    number_type=st.sampled_from(_TYPES),
    number_format=st.sampled_from(_FORMATS),
)
def test_example_numbers_resolve_stably(region: str, number_type: int, number_format: int) -> None:
    example = phonenumbers.example_number_for_type(region, number_type)
    if example is None:
        return
    assert phonenumbers.is_valid_number(example)
    text = phonenumbers.format_number(example, number_format)
    msisdn = normalize(text, region)
    destination = resolve(msisdn)
    assert destination == resolve(text, region) == resolve(msisdn)
    assert destination.msisdn == msisdn == normalize(msisdn)
    assert destination.country == phonenumbers.region_code_for_number(example)
    assert destination.name.startswith(destination.country_name)
    assert destination.mcc == COUNTRY_MCC[destination.country] or destination.mnc is not None
    assert (destination.mnc is None) == (destination.network is None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="+0123456789 -()abc#\u00a0", max_size=24))
def test_arbitrary_text_is_either_a_valid_number_or_invalid_number(raw: str) -> None:
    try:
        destination = resolve(raw)
    except InvalidNumber as error:
        message = str(error)
        assert message.startswith(f"{raw!r} is not a valid phone number: ")
        return
    number = phonenumbers.parse("+" + destination.msisdn)
    assert phonenumbers.is_valid_number(number)
    assert normalize(destination.msisdn) == destination.msisdn
