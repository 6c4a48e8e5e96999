"""Loading of the curated country and network tables shipped in ``data/``.

Both tables are small CSV files (see ``data/SOURCES.md`` for where they come
from).  They are parsed once, validated, and turned into dictionaries keyed the
way the resolver needs them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import phonenumbers

__all__ = ["Country", "DataError", "Network", "Tables", "load_tables"]

_MCC_RE = re.compile(r"[0-9]{3}")
_MNC_RE = re.compile(r"[0-9]{2,3}")
_REGION_RE = re.compile(r"[A-Z]{2}")

COUNTRIES_FILE = "countries.csv"
NETWORKS_FILE = "networks.csv"
_COUNTRIES_HEADER = ("country", "mcc", "name")
_NETWORKS_HEADER = ("country", "carrier", "mcc", "mnc", "network")


class DataError(RuntimeError):
    """A bundled data file is malformed (a packaging or editing mistake)."""


@dataclass(frozen=True, slots=True)
class Country:
    """One row of ``countries.csv``."""

    code: str  # ISO 3166 alpha-2
    mcc: str
    name: str


@dataclass(frozen=True, slots=True)
class Network:
    """The network a carrier name stands for: its MCC/MNC and display name."""

    mcc: str
    mnc: str
    name: str


@dataclass(frozen=True, slots=True)
class Tables:
    """Lookup structures built from the two CSV files."""

    countries: Mapping[str, Country]
    """ISO alpha-2 -> country."""
    carriers: Mapping[tuple[str, str], Network]
    """(ISO alpha-2, carrier name case-folded) -> network."""
    networks: Mapping[tuple[str, str], Network]
    """(MCC, MNC) -> network, for naming what a portability lookup returns."""


def _rows(text: str, filename: str, header: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text))
    first = next(reader, None)
    if first is None or tuple(first) != header:
        raise DataError(f"{filename}: the header must be {','.join(header)!r}, got {first!r}")
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"{filename}:{reader.line_num}: expected {len(header)} fields, got {len(row)}"
            )
        yield reader.line_num, [field.strip() for field in row]


def parse_countries(text: str, filename: str = COUNTRIES_FILE) -> dict[str, Country]:
    """Parse the text of ``countries.csv``."""
    countries: dict[str, Country] = {}
    for line, (code, mcc, name) in _rows(text, filename, _COUNTRIES_HEADER):
        where = f"{filename}:{line}"
        if not _REGION_RE.fullmatch(code):
            raise DataError(f"{where}: {code!r} is not an ISO 3166 alpha-2 code")
        if not _MCC_RE.fullmatch(mcc):
            raise DataError(f"{where}: the MCC {mcc!r} is not three digits")
        if not name:
            raise DataError(f"{where}: the country name is empty")
        if code in countries:
            raise DataError(f"{where}: {code} is listed twice")
        countries[code] = Country(code=code, mcc=mcc, name=name)
    return countries


def parse_networks(
    text: str, countries: Mapping[str, Country], filename: str = NETWORKS_FILE
) -> tuple[dict[tuple[str, str], Network], dict[tuple[str, str], Network]]:
    """Parse the text of ``networks.csv``; returns (by carrier, by MCC/MNC)."""
    by_carrier: dict[tuple[str, str], Network] = {}
    by_code: dict[tuple[str, str], Network] = {}
    for line, (code, carrier, mcc, mnc, name) in _rows(text, filename, _NETWORKS_HEADER):
        where = f"{filename}:{line}"
        if code not in countries:
            raise DataError(f"{where}: the country {code!r} is not in {COUNTRIES_FILE}")
        if not carrier or not name:
            raise DataError(f"{where}: the carrier and network names must not be empty")
        if not _MCC_RE.fullmatch(mcc):
            raise DataError(f"{where}: the MCC {mcc!r} is not three digits")
        if not _MNC_RE.fullmatch(mnc):
            raise DataError(f"{where}: the MNC {mnc!r} is not two or three digits")
        key = (code, carrier.casefold())
        if key in by_carrier:
            raise DataError(f"{where}: the carrier {carrier!r} is listed twice for {code}")
        network = by_code.setdefault((mcc, mnc), Network(mcc=mcc, mnc=mnc, name=name))
        if network.name != name:
            raise DataError(
                f"{where}: {mcc}/{mnc} is named {name!r} here but {network.name!r} earlier"
            )
        by_carrier[key] = network
    return by_carrier, by_code


def _read(filename: str) -> str:
    return (
        resources.files("smsgate.numbering").joinpath("data", filename).read_text(encoding="utf-8")
    )


@cache
def load_tables() -> Tables:
    """Load and validate the bundled tables (once per process)."""
    countries = parse_countries(_read(COUNTRIES_FILE))
    unknown = sorted(set(countries) - set(phonenumbers.SUPPORTED_REGIONS))
    if unknown:
        raise DataError(f"{COUNTRIES_FILE}: regions phonenumbers does not know: {unknown}")
    carriers, networks = parse_networks(_read(NETWORKS_FILE), countries)
    return Tables(countries=countries, carriers=carriers, networks=networks)
