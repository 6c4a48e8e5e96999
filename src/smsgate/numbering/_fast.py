"""The fast path of number resolution: international numbers written as plain digits.

``phonenumbers.parse`` + ``number_type`` + ``carrier.name_for_valid_number`` cost about
25 µs a number, most of it in the general parser (RFC 3966, extensions, alpha numbers,
national formats) and in looking up and re-compiling the metadata's patterns on every
call. Bulk sendings hand over numbers that are already E.164 digits (``+37120000000``), for
which almost all of that work is moot. This module answers those with phonenumbers' own
metadata and carrier table, evaluated in the same order and with the same tests as the
library does, but with every pattern compiled once:

* the country calling code: the first of the first 1, 2, 3 digits that phonenumbers knows
  (``_extract_country_code``);
* the national number: the rest, unchanged. ``parse`` may strip a national prefix from it
  (``_maybe_strip_national_prefix_carrier_code``); whenever the prefix pattern of the
  calling code's main region matches in a way that could change the number, this path
  declines and the caller takes the reference path;
* the region (``region_code_for_number``: the one region of the calling code, or the first
  of its regions whose leading digits match or for which the number has a type);
* the type (``_number_type_helper``): for each region and length, the number descriptions
  that admit that length are folded into one pattern,
  ``(?=general\\Z)(?:(premium)|(toll free)|...|(fixed line)|(mobile))``. A full match picks
  the first alternative, in the library's order, that matches the whole number, and the
  lookahead is the library's test of the general description; fixed line is then told
  from fixed-line-or-mobile with the mobile pattern, as the library does;
* the carrier (``prefix._prefix_description_for_number``): the longest prefix of the
  E.164 digits in phonenumbers' carrier table that has a name in the language asked.

No answer here is cached by prefix: validity depends on the whole number (its length and
every digit the patterns test), so each number is matched in full.

``resolve_digits`` returns the destination of a valid number, or None for anything it
does not handle or finds invalid, which the caller then gives to the reference path (the
reference path alone words the reasons of invalid numbers). That makes the two paths
agree by construction on everything the fast path declines; on what it accepts,
``tests/numbering/test_fast.py`` compares them over numbers of every region.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers.carrierdata import CARRIER_DATA
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

from ._table import Country, Network, load_tables

__all__ = ["Place", "intern_place", "place_of_digits"]

# Mirrors of phonenumbers' own limits (phonenumberutil._MIN/_MAX_LENGTH_FOR_NSN and
# _MAX_LENGTH_COUNTRY_CODE); numbers outside them go to the reference path.
_MIN_NSN: Final = 2
_MAX_NSN: Final = 17
_MAX_CC: Final = 3
_NON_GEO: Final = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY

# The order of phonenumberutil._number_type_helper, before fixed line and mobile.
_SPECIAL_TYPES: Final = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)
_FIXED: Final = -1  # marker: the fixed-line alternative matched
_CARRIER_TYPES: Final = frozenset(
    (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER)
)
_UNKNOWN: Final = PhoneNumberType.UNKNOWN


@dataclass(frozen=True, slots=True)
class Place:
    """What a destination is apart from its number: shared by every number of a network."""

    country: str
    country_name: str
    mcc: str | None
    mnc: str | None
    network: str | None


def _pattern(desc: PhoneNumberDesc | None, length: int) -> str | None:
    """The pattern of ``desc`` if a national number of ``length`` digits can match it
    (``_is_number_matching_desc``: the possible lengths, then a non-empty pattern)."""
    if desc is None:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return desc.national_number_pattern or None


def _plain(pattern: str) -> str:
    """``pattern`` as it may be folded into an alternation: it must define no groups of its
    own, so that the alternation's groups are the only ones (checked, not assumed)."""
    if re.compile(pattern).groups:
        raise ValueError(f"a metadata pattern with groups: {pattern!r}")
    return pattern


class _Typer:
    """``_number_type_helper`` for the numbers of one length in one region's metadata."""

    __slots__ = ("_match", "_mobile", "_same", "_types")

    def __init__(self, metadata: PhoneMetadata, length: int) -> None:
        self._match: Callable[[str], re.Match[str] | None] | None = None
        self._types: list[int] = []
        self._mobile: Callable[[str], re.Match[str] | None] | None = None
        self._same = bool(metadata.same_mobile_and_fixed_line_pattern)
        general = _pattern(metadata.general_desc, length)
        if general is None:
            return  # the general description rules the length out: always UNKNOWN
        branches: list[str] = []
        for name, kind in _SPECIAL_TYPES:
            pattern = _pattern(getattr(metadata, name), length)
            if pattern is not None:
                branches.append(_plain(pattern))
                self._types.append(kind)
        fixed = _pattern(metadata.fixed_line, length)
        mobile = _pattern(metadata.mobile, length)
        if fixed is not None:
            branches.append(_plain(fixed))
            self._types.append(_FIXED)
        if mobile is not None:
            if not self._same:
                # Reached only when fixed line did not match (the library's last test).
                branches.append(_plain(mobile))
                self._types.append(PhoneNumberType.MOBILE)
            self._mobile = re.compile(mobile).fullmatch
        if branches:
            alternatives = "|".join(f"({b})" for b in branches)
            self._match = re.compile(f"(?=(?:{_plain(general)})\\Z)(?:{alternatives})").fullmatch

    def type_of(self, nsn: str) -> int:
        if self._match is None:
            return _UNKNOWN
        found = self._match(nsn)
        if found is None:
            return _UNKNOWN
        kind = self._types[found.lastindex - 1]  # type: ignore[operator]
        if kind != _FIXED:
            return kind
        if self._same or (self._mobile is not None and self._mobile(nsn)):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE


class _Metadata:
    """One region's (or one non-geographic calling code's) metadata, compiled once."""

    __slots__ = ("leading", "metadata", "typers")

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.metadata = metadata
        leading = metadata.leading_digits
        self.leading = re.compile(leading).match if leading is not None else None
        self.typers: dict[int, _Typer] = {}

    def typer(self, length: int) -> _Typer:
        typer = self.typers.get(length)
        if typer is None:
            typer = self.typers[length] = _Typer(self.metadata, length)
        return typer

    def type_of(self, nsn: str) -> int:
        return self.typer(len(nsn)).type_of(nsn)


@cache
def _region(code: str) -> _Metadata | None:
    """``PhoneMetadata.metadata_for_region(code)``, compiled."""
    metadata = PhoneMetadata.metadata_for_region(code, None)
    return _Metadata(metadata) if metadata is not None else None


@cache
def _non_geographic(calling_code: int) -> _Metadata | None:
    metadata = PhoneMetadata.metadata_for_nongeo_region(calling_code, None)
    return _Metadata(metadata) if metadata is not None else None


def _for_region_or_calling_code(calling_code: int, code: str) -> _Metadata | None:
    """``PhoneMetadata.metadata_for_region_or_calling_code``, compiled."""
    return _non_geographic(calling_code) if code == _NON_GEO else _region(code)


class _CallingCode:
    """What the fast path needs about one country calling code."""

    __slots__ = ("carriers", "code", "keeps_national", "length", "regions", "single")

    def __init__(self, code: int) -> None:
        self.code = code
        self.length = len(str(code))
        self.regions: tuple[str, ...] = tuple(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code])
        # The compiled metadata when the calling code has one region (most do).
        self.single = (
            _for_region_or_calling_code(code, self.regions[0]) if len(self.regions) == 1 else None
        )
        main = phonenumbers.region_code_for_country_code(code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, main)
        self.keeps_national = _national_prefix_test(metadata)
        self.carriers = _Carriers(str(code))

    def region_of(self, nsn: str) -> str | None:
        """``region_code_for_number`` (``_region_code_for_number_from_list``)."""
        regions = self.regions
        if len(regions) == 1:
            return regions[0]
        for code in regions:
            compiled = _region(code.upper())
            if compiled is None:
                continue
            if compiled.leading is not None:
                if compiled.leading(nsn):
                    return code
            elif compiled.type_of(nsn) != _UNKNOWN:
                return code
        return None


class _Carriers:
    """The place of a carrier-type number (mobile, fixed line or mobile, pager) of one
    calling code, from ``carrier.name_for_valid_number`` and the curated table.

    The name is the one of the longest prefix of the E.164 digits in phonenumbers'
    carrier table, so it depends on the first ``longest`` digits only, where ``longest``
    is the length of the longest prefix in the table that can start a number of this
    calling code (those that begin with it, and any shorter one it begins with). The
    answers are therefore remembered by (region, those digits): exact, not a guess, and
    at most one entry per table prefix range in use (bounded all the same)."""

    __slots__ = ("lengths", "longest", "memos")

    _LIMIT: Final = 100_000

    def __init__(self, digits: str) -> None:
        starting = _carrier_lengths().get(digits, set())
        shorter = {n for n in range(1, len(digits) + 1) if digits[:n] in CARRIER_DATA}
        self.lengths = sorted(starting | shorter, reverse=True)
        self.longest = self.lengths[0] if self.lengths else 0
        self.memos: dict[str, dict[str, Place]] = {}
        """region -> the first ``longest`` digits -> place"""

    def place(self, region: str, digits: str) -> Place:
        memo = self.memos.get(region)
        if memo is None or len(memo) >= self._LIMIT:
            memo = self.memos[region] = {}
        name = _carrier(digits, self.lengths, _carrier_names(_CARRIER_LANGUAGE))
        if not name and region in _FALLBACK_LANGUAGE:
            name = _carrier(digits, self.lengths, _carrier_names(_FALLBACK_LANGUAGE[region]))
        network = load_tables().carriers.get((region, name.casefold())) if name else None
        place = memo[digits[: self.longest]] = _place(region, network)
        return place


def _national_prefix_test(metadata: PhoneMetadata | None) -> Callable[[str], bool]:
    """A test that is true when ``parse`` leaves a national number as it is.

    ``parse`` runs ``_maybe_strip_national_prefix_carrier_code`` on the national number
    of an international number too. It changes nothing when the region has no prefix
    pattern, when the pattern does not match, or when it matches the empty string and no
    transform rule applies (it then returns ``number[0:]``). Anything else is declined."""
    if metadata is None:
        return lambda nsn: False
    prefix = metadata.national_prefix_for_parsing
    if not prefix:
        return lambda nsn: True
    match = re.compile(prefix).match
    transform = metadata.national_prefix_transform_rule

    def keeps(nsn: str) -> bool:
        found = match(nsn)
        if found is None:
            return True
        if found.end() != 0:
            return False
        if not transform:
            return True
        groups = found.groups()
        return bool(groups) and groups[-1] is None

    return keeps


class _Starts(dict[str, "_CallingCode | None"]):
    """The calling code of the numbers starting with these three digits, built on first use
    of each: the first of the first 1, 2 and 3 digits that is a calling code, as
    ``_extract_country_code`` tries them (none for a leading 0)."""

    def __missing__(self, start: str) -> _CallingCode | None:
        codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        entry = None
        if start[:1] != "0":
            for n in range(1, len(start) + 1):
                if start[:n].isdigit() and int(start[:n]) in codes:
                    entry = _calling_code(int(start[:n]))
                    break
        self[start] = entry
        return entry


@cache
def _calling_code(code: int) -> _CallingCode:
    return _CallingCode(code)


_STARTS: Final = _Starts()


@cache
def _carrier_lengths() -> dict[str, set[int]]:
    """The first 1, 2 and 3 digits of the carrier table's prefixes -> their lengths."""
    lengths: dict[str, set[int]] = {}
    for prefix in CARRIER_DATA:
        for n in range(1, min(len(prefix), _MAX_CC) + 1):
            lengths.setdefault(prefix[:n], set()).add(len(prefix))
    return lengths


@cache
def _carrier_names(language: str) -> dict[str, str]:
    """prefix -> the name ``prefix._find_lang`` gives for ``language`` (no script or region),
    for the prefixes where it gives one; others make the search try a shorter prefix."""
    names: dict[str, str] = {}
    for prefix, by_language in CARRIER_DATA.items():
        if language in by_language:
            names[prefix] = by_language[language]
        elif "en" in by_language and language not in ("zh", "ja", "ko"):
            names[prefix] = by_language["en"]  # _may_fall_back_to_english
    return names


_CARRIER_LANGUAGE: Final = "en"
_FALLBACK_LANGUAGE: Final = {"RU": "ru"}
_NON_GEOGRAPHIC: Final = Country(code="001", mcc="901", name="International Networks")


def _carrier(digits: str, lengths: list[int], names: dict[str, str]) -> str:
    for length in lengths:
        if length <= len(digits):
            name = names.get(digits[:length])
            if name is not None:
                return name
    return ""


@cache
def intern_place(
    country: str, country_name: str, mcc: str | None, mnc: str | None, network: str | None
) -> Place:
    """The one Place object of these fields (so places can be told apart by identity)."""
    return Place(country, country_name, mcc, mnc, network)


@cache
def _place(code: str, network: Network | None) -> Place:
    """As ``_resolve._destination`` builds a destination from the region and network."""
    if code == _NON_GEO:
        country = _NON_GEOGRAPHIC
    else:
        country = load_tables().countries.get(code) or Country(code=code, mcc="", name=code)
    return intern_place(
        country.code,
        country.name,
        network.mcc if network is not None else (country.mcc or None),
        network.mnc if network is not None else None,
        network.name if network is not None else None,
    )


def place_of_digits(digits: str) -> Place | None:
    """The place of the international number ``digits`` (ASCII digits, no '+'), if it is
    valid and in the fast path's form; None sends the caller to the reference path.

    Written flat, with the lookups of the helpers above inlined: it runs once per
    recipient of a sending."""
    if len(digits) < 3:
        return None
    entry = _STARTS[digits[:3]]
    if entry is None:
        return None
    nsn = digits[entry.length :]
    length = len(nsn)
    if not (_MIN_NSN <= length <= _MAX_NSN) or not entry.keeps_national(nsn):
        return None
    compiled = entry.single
    if compiled is not None:
        region = entry.regions[0]
    else:
        found = entry.region_of(nsn)
        if found is None:
            return None
        region = found
        compiled = _for_region_or_calling_code(entry.code, region)
        if compiled is None:
            return None
    typer = compiled.typers.get(length) or compiled.typer(length)
    kind = typer.type_of(nsn)
    if kind == _UNKNOWN:
        return None
    if kind in _CARRIER_TYPES:
        carriers = entry.carriers
        memo = carriers.memos.get(region)
        if memo is not None:
            place = memo.get(digits[: carriers.longest])
            if place is not None:
                return place
        return carriers.place(region, digits)
    return _place(region, None)
