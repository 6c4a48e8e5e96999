"""HTTP upstream providers, by connector kind."""

from __future__ import annotations

from smsgate.connectors.http.base import HttpProvider

PROVIDERS: dict[str, type[HttpProvider]] = {}


def register(cls: type[HttpProvider]) -> type[HttpProvider]:
    """Class decorator: make a provider available as a connector kind."""
    PROVIDERS[cls.kind] = cls
    return cls


def load_providers() -> dict[str, type[HttpProvider]]:
    """Import every provider module (each registers itself) and return them by kind."""
    import importlib
    import pkgutil

    import smsgate.connectors.http as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in ("base",) and not module.name.startswith("_"):
            importlib.import_module(f"smsgate.connectors.http.{module.name}")
    return PROVIDERS
