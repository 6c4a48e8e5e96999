"""Phone number normalisation and destination resolution.

Every recipient number is normalised to E.164 digits and resolved to a
:class:`Destination`: country, MCC/MNC (used to pick a price rate) and a
display name such as ``"Latvia LMT"``::

    >>> from smsgate.numbering import resolve
    >>> resolve("+371 2000 0000").name  # doctest: +SKIP
    'Latvia LMT'

The network is derived from the carrier that phonenumbers reports for the
number's prefix, mapped through the curated tables in ``data/`` (see
``data/SOURCES.md``).  Numbers ported to another network resolve to the
original one unless a :class:`PortabilityLookup` (an HLR or MNP lookup) is
installed with :func:`set_portability_lookup`.
"""

from ._resolve import (
    Destination,
    Destinations,
    InvalidNumber,
    Place,
    PortabilityLookup,
    normalize,
    resolve,
    resolve_many,
    set_portability_lookup,
)

__all__ = [
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
