"""Normalisation of phone numbers and their resolution to a destination.

``resolve()`` and ``resolve_many()`` sit on the hot path of sends; a bulk sending has up
to a million recipients, so the work per number is kept small:

* an international number written as plain digits (``+37120000000``, ``37120000000``)
  takes the fast path (``_fast.place_of_digits``: phonenumbers' own metadata and carrier
  table with every pattern compiled once, about a tenth of the general path's cost);
* anything else (formatting, national numbers, a default region, invalid numbers, and
  the few forms the fast path declines) takes the reference path: the input stripped of
  formatting with one ``str.translate`` call, then ``phonenumbers`` parsing, validation
  and carrier lookup (about 25 µs), which alone words the reasons of invalid numbers;
* ``resolve()`` keeps both behind a bounded LRU cache keyed by the stripped input;
  ``resolve_many()`` skips the cache on the fast path (a sending's numbers are distinct)
  and stores the answers compactly (``Destinations``);
* the optional portability hook is asked on every call, after the cache, so
  its answers are never frozen into the cache.
"""

from __future__ import annotations

import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Protocol, overload, runtime_checkable

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import carrier as pn_carrier
from phonenumbers.phonenumberutil import NumberParseException, ValidationResult

from ._fast import (
    _CARRIER_LANGUAGE,
    _FALLBACK_LANGUAGE,
    _NON_GEOGRAPHIC,
    Place,
    intern_place,
    place_of_digits,
)
from ._table import Country, load_tables

__all__ = [
    "CACHE_SIZE",
    "Destination",
    "Destinations",
    "InvalidNumber",
    "Place",
    "PortabilityLookup",
    "normalize",
    "resolve",
    "resolve_many",
    "set_portability_lookup",
]

CACHE_SIZE: Final = 65_536
"""Entries kept by the resolution cache (a few hundred bytes each)."""

_MAX_INPUT = 250  # phonenumbers refuses longer input as well
# The carrier names are asked in English, and for Russia in Russian as a fallback
# (_fast._CARRIER_LANGUAGE, _FALLBACK_LANGUAGE): phonenumbers has a few Russian prefixes
# whose carrier is only named in Russian.
# The number types phonenumbers has carrier data for (as phonenumbers.carrier).
_CARRIER_TYPES: Final = frozenset(
    (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER)
)
# phonenumbers' pseudo-region for non-geographic numbers (+800, +870, +882, +883 …) is
# _fast._NON_GEOGRAPHIC.

# Formatting characters removed before parsing: spaces, dashes, dots, slashes
# and brackets, including the Unicode variants people paste from documents.
_FORMATTING: Final = (
    " \t\r\n\u00a0\u2007\u2009\u202f\u3000"  # whitespace
    "-./()[]"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"  # hyphens, dashes, minus
)
_STRIP: Final = str.maketrans("", "", _FORMATTING)


class InvalidNumber(ValueError):
    """A string that is not a valid phone number.

    ``str(error)`` is an English sentence naming the input and what is wrong
    with it, e.g. ``'+12' is not a valid phone number: it is too short``.
    """

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"{raw!r} is not a valid phone number: {reason}")

    def __reduce__(self) -> tuple[type[InvalidNumber], tuple[str, str]]:
        return (type(self), (self.raw, self.reason))


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a message to one phone number goes, as far as pricing is concerned."""

    msisdn: str
    """E.164 digits without '+', e.g. ``"37120000000"``."""
    country: str
    """ISO 3166 alpha-2 code, e.g. ``"LV"`` (``"001"`` for non-geographic numbers)."""
    country_name: str
    """English short name of the country, e.g. ``"Latvia"``."""
    mcc: str | None
    """Mobile country code, e.g. ``"247"``; None only if the country has none in the table."""
    mnc: str | None
    """Mobile network code, e.g. ``"01"``; None when the network is unknown."""
    network: str | None
    """Display name of the network, e.g. ``"LMT"``; None when it is unknown."""

    @property
    def name(self) -> str:
        """``"Latvia LMT"``, or just ``"Latvia"`` when the network is unknown."""
        if self.network is None:
            return self.country_name
        return f"{self.country_name} {self.network}"


@runtime_checkable
class PortabilityLookup(Protocol):
    """Tells which network a number was ported to (an HLR or MNP lookup)."""

    def lookup(self, msisdn: str) -> tuple[str, str] | None:
        """Return ``(mcc, mnc)`` of the network now serving ``msisdn``, or None if unknown."""
        ...


_portability: PortabilityLookup | None = None


def set_portability_lookup(lookup: PortabilityLookup | None) -> None:
    """Install (or, with None, remove) the number portability hook.

    This is where an HLR lookup or a mobile number portability (MNP) database
    plugs in.  When a hook is installed, ``resolve()`` asks it about every
    number (after validation) and, when it answers ``(mcc, mnc)``, the
    destination carries that MCC/MNC instead of the one derived from the
    number's original allocation; the network name is taken from the curated
    table when the pair is listed there, otherwise ``network`` is None.  When
    the hook answers None the number resolves as without a hook.

    The hook is called on every ``resolve()``: the resolution cache only holds
    what follows from the number itself, never the hook's answers, so a hook
    that is expensive (a paid HLR query) should cache on its own side.  The
    resolution cache is cleared whenever the hook changes.  Exceptions raised
    by the hook propagate to the caller of ``resolve()``.
    """
    global _portability
    if lookup is not None and not callable(getattr(lookup, "lookup", None)):
        raise TypeError("the portability lookup must have a lookup(msisdn) method")
    _portability = lookup
    _destination.cache_clear()


def normalize(raw: str, default_region: str | None = None) -> str:
    """Return the E.164 digits (without '+') of the phone number ``raw``.

    Accepted forms include ``"+371 2000 0000"``, ``"371-2000-0000"``,
    ``"0037120000000"``, ``"(371) 20000000"`` and plain digits.  Without
    ``default_region`` the number must be international (with or without the
    '+'); a leading ``"00"`` is always taken as the international prefix.  With
    ``default_region`` (ISO alpha-2, e.g. ``"LV"``) a national number such as
    ``"20000000"`` is accepted too, as well as that region's own international
    call prefix.

    Raises InvalidNumber for anything ``phonenumbers.is_valid_number`` rejects:
    letters, too few or too many digits, unassigned ranges, empty input.
    """
    return _resolve_number(raw, default_region).msisdn


def resolve(raw_or_msisdn: str, default_region: str | None = None) -> Destination:
    """Normalise ``raw_or_msisdn`` (as ``normalize()``) and resolve its destination.

    The network comes from the portability hook when one is installed and
    answers; otherwise from the carrier phonenumbers reports for the number's
    prefix, looked up (case-insensitively, within the country) in the curated
    ``networks.csv``.  When neither knows, ``mnc`` and ``network`` are None
    and ``mcc`` is the country's.

    Raises InvalidNumber as ``normalize()`` does, and ValueError for an unknown
    ``default_region``.
    """
    destination = _resolve_number(raw_or_msisdn, default_region)
    hook = _portability
    if hook is None:
        return destination
    ported = hook.lookup(destination.msisdn)
    if ported is None:
        return destination
    mcc, mnc = _check_ported(ported, destination.msisdn)
    network = load_tables().networks.get((mcc, mnc))
    return Destination(
        msisdn=destination.msisdn,
        country=destination.country,
        country_name=destination.country_name,
        mcc=mcc,
        mnc=mnc,
        network=network.name if network is not None else None,
    )


class Destinations(Sequence[Destination]):
    """The destinations of many numbers, stored compactly (``resolve_many``).

    A sequence of ``Destination`` like a list of them, but what it keeps per number is its
    E.164 digits and the index of its ``Place`` (country and network, shared by every
    number of that network): a million destinations take about 70 MB instead of 140, and
    a caller that prices or writes them by place (the send path) never builds a
    ``Destination`` per number. Indexing and iterating build them on demand."""

    __slots__ = ("kinds", "msisdns", "places")

    def __init__(self, msisdns: list[str], kinds: array[int], places: list[Place]) -> None:
        if len(msisdns) != len(kinds):
            raise ValueError("one kind per number")
        self.msisdns = msisdns
        """E.164 digits of each number, in order."""
        self.kinds = kinds
        """Index into ``places`` of each number's place."""
        self.places = places
        """The distinct places, in order of first appearance."""

    def __len__(self) -> int:
        return len(self.msisdns)

    @overload
    def __getitem__(self, index: int) -> Destination: ...
    @overload
    def __getitem__(self, index: slice) -> list[Destination]: ...
    def __getitem__(self, index: int | slice) -> Destination | list[Destination]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return _at(self.msisdns[index], self.places[self.kinds[index]])

    def __iter__(self) -> Iterator[Destination]:
        places = self.places
        for msisdn, kind in zip(self.msisdns, self.kinds, strict=True):
            yield _at(msisdn, places[kind])


def resolve_many(numbers: Iterable[str]) -> tuple[Destinations, list[str]]:
    """``resolve()`` of every number (no default region): the destinations of the valid
    ones, in order, and the invalid ones as given, in order.

    Each destination is exactly what ``resolve()`` answers for that number, the
    portability hook included. International numbers written as plain digits take the
    fast path without the resolution cache; the rest go through ``resolve()``."""
    msisdns: list[str] = []
    kinds: array[int] = array("I")
    places: list[Place] = []
    index: dict[int, int] = {}  # id(place) -> its index; places are interned (never freed)
    bad: list[str] = []
    hook = _portability
    last: Place | None = None
    last_kind = 0
    add_msisdn, add_kind = msisdns.append, kinds.append
    for raw in numbers:
        place = None
        if hook is None and type(raw) is str:
            # _prepare's reading of the two plain forms: "+<digits>", and bare digits
            # (international; a leading 00 is the international prefix).
            if raw[:1] == "+":
                digits = raw[1:]
                if digits.isdigit() and digits.isascii():
                    place = place_of_digits(digits)
            elif raw.isdigit() and raw.isascii():
                digits = raw[2:] if raw[:2] == "00" else raw
                place = place_of_digits(digits)
        if place is None:
            try:
                destination = resolve(raw)
            except InvalidNumber:
                bad.append(raw)
                continue
            digits = destination.msisdn
            place = intern_place(
                destination.country,
                destination.country_name,
                destination.mcc,
                destination.mnc,
                destination.network,
            )
        if place is not last:
            kind = index.get(id(place))
            if kind is None:
                kind = index[id(place)] = len(places)
                places.append(place)
            last, last_kind = place, kind
        add_msisdn(digits)
        add_kind(last_kind)
    return Destinations(msisdns, kinds, places), bad


def _resolve_number(raw: str, default_region: str | None) -> Destination:
    """Resolve without asking the portability hook (cached)."""
    if not isinstance(raw, str):
        raise TypeError(f"a phone number must be a str, not {type(raw).__name__}")
    region = _check_region(default_region)
    text, key_region = _prepare(raw, region)
    try:
        return _destination(text, key_region)
    except InvalidNumber as error:
        if error.raw == raw:
            raise
        raise InvalidNumber(raw, error.reason) from None


def _check_region(default_region: str | None) -> str | None:
    if default_region is None:
        return None
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{default_region!r} is not a region code phonenumbers supports")
    return region


def _prepare(raw: str, region: str | None) -> tuple[str, str | None]:
    """Strip formatting; return the text to parse and the region to parse it in.

    International numbers are returned as ``"+<digits>"`` with region None, so
    they share one cache entry whatever default region the caller passed.
    """
    stripped = raw.translate(_STRIP)
    international = stripped.startswith("+")
    digits = stripped[1:] if international else stripped
    if not (digits.isdecimal() and digits.isascii()):
        digits = _diagnose(raw, digits)
    if len(digits) > _MAX_INPUT:
        raise InvalidNumber(raw, "it is too long")
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international or region is None:
        return "+" + digits, None
    return digits, region


def _diagnose(raw: str, digits: str) -> str:
    """Handle the unusual inputs the fast path leaves: raise, or return ASCII digits."""
    if not raw.strip():
        raise InvalidNumber(raw, "it is empty")
    if len(raw) > _MAX_INPUT:
        raise InvalidNumber(raw, "it is too long")
    if any(ch.isalpha() for ch in raw):
        raise InvalidNumber(raw, "it contains letters")
    if "+" in digits:
        raise InvalidNumber(raw, "a '+' may only appear at the start")
    rest = "".join(ch for ch in digits if not ch.isspace())
    for ch in rest:
        if not ch.isdecimal():
            raise InvalidNumber(raw, f"it contains the character {ch!r}")
    if not rest:
        raise InvalidNumber(raw, "it contains no digits")
    return "".join(str(unicodedata.decimal(ch)) for ch in rest)


@lru_cache(maxsize=CACHE_SIZE)
def _destination(text: str, region: str | None) -> Destination:
    """Resolve one prepared number (without the portability hook): the fast path for an
    international number, else the reference path."""
    if region is None:
        place = place_of_digits(text[1:])
        if place is not None:
            return _at(text[1:], place)
    return _reference(text, region)


def _at(msisdn: str, place: Place) -> Destination:
    return Destination(
        msisdn, place.country, place.country_name, place.mcc, place.mnc, place.network
    )


def _reference(text: str, region: str | None) -> Destination:
    """Parse, validate and resolve one prepared number with phonenumbers' general API."""
    try:
        numobj = phonenumbers.parse(text, region)
    except NumberParseException as error:
        raise InvalidNumber(text, _parse_failure(error, text, region)) from None
    # phonenumbers.is_valid_number(n) is exactly number_type(n) != UNKNOWN (both
    # match the national number against the region's metadata); computing the
    # type once also serves the carrier lookup, which only applies to mobiles.
    number_type = phonenumbers.number_type(numobj)
    if number_type == PhoneNumberType.UNKNOWN:
        raise InvalidNumber(text, _invalid_reason(numobj))

    tables = load_tables()
    msisdn = f"{numobj.country_code}{phonenumbers.national_significant_number(numobj)}"
    code = phonenumbers.region_code_for_number(numobj) or phonenumbers.UNKNOWN_REGION
    if code == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        country = _NON_GEOGRAPHIC
    else:
        country = tables.countries.get(code) or Country(code=code, mcc="", name=code)

    network = None
    if number_type in _CARRIER_TYPES:
        name = pn_carrier.name_for_valid_number(numobj, _CARRIER_LANGUAGE)
        if not name and code in _FALLBACK_LANGUAGE:
            name = pn_carrier.name_for_valid_number(numobj, _FALLBACK_LANGUAGE[code])
        if name:
            network = tables.carriers.get((code, name.casefold()))

    return Destination(
        msisdn=msisdn,
        country=country.code,
        country_name=country.name,
        mcc=network.mcc if network is not None else (country.mcc or None),
        mnc=network.mnc if network is not None else None,
        network=network.name if network is not None else None,
    )


def _parse_failure(error: NumberParseException, text: str, region: str | None) -> str:
    kind = error.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if region is None and not text.startswith("+0"):
            return "it does not start with a known country calling code"
        return (
            "it has no country calling code; write it in international format "
            "(+<country code> …) or give a default region"
        )
    if kind == NumberParseException.TOO_LONG:
        return "it is too long"
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return "it is too short"
    if sum(ch.isdigit() for ch in text) <= 3:
        return "it is too short"
    return "it does not look like a phone number"


def _invalid_reason(numobj: phonenumbers.PhoneNumber) -> str:
    country_code = numobj.country_code or 0
    where = _where(country_code)
    reason = phonenumbers.is_possible_number_with_reason(numobj)
    if reason == ValidationResult.TOO_SHORT:
        return f"it is too short for {where}"
    if reason == ValidationResult.TOO_LONG:
        return f"it is too long for {where}"
    if reason == ValidationResult.INVALID_LENGTH:
        return f"it has the wrong number of digits for {where}"
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        return f"+{country_code} is not an assigned country calling code"
    return f"it is not in a number range in use in {where}"


def _where(country_code: int) -> str:
    regions = phonenumbers.region_codes_for_country_code(country_code)
    if len(regions) == 1:
        country = load_tables().countries.get(regions[0])
        if country is not None:
            return country.name
    return f"country calling code +{country_code}"


def _check_ported(ported: object, msisdn: str) -> tuple[str, str]:
    if (
        isinstance(ported, tuple)
        and len(ported) == 2
        and isinstance(ported[0], str)
        and isinstance(ported[1], str)
        and len(ported[0]) == 3
        and ported[0].isdigit()
        and len(ported[1]) in (2, 3)
        and ported[1].isdigit()
    ):
        return ported[0], ported[1]
    raise ValueError(
        f"the portability lookup returned {ported!r} for {msisdn}; "
        "expected (mcc, mnc) as strings of 3 and 2–3 digits, or None"
    )
