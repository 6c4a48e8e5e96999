"""The SMSgic surface, at the root: a drop-in for integrations written against api.smsgic.com.

Thin on purpose: each route reads SMSgic's parameters (``_params``), calls the core
(``SendService.send``, ``pricing.quote``, ``pricing.service.list_rates``, ``billing.ledger``,
``senders.service``, ``messaging.queries``) and writes SMSgic's JSON (``_shape``). Every error
on these paths, from a bad token to an internal one, is rendered in SMSgic's Laravel shape.
What differs from the original, and why: ``docs/api/smsgic.md``.
"""

from fastapi import APIRouter

from smsgate.surfaces.rendering import register
from smsgate.surfaces.smsgic import _account, _sendings
from smsgate.surfaces.smsgic._shape import render

PATHS = frozenset({"/balance", "/senders", "/rates", "/sendings"})

router = APIRouter()
router.include_router(_account.router)
router.include_router(_sendings.router)


def owns(path: str) -> bool:
    return path in PATHS or path.startswith("/sendings/")


register(owns, render)

__all__ = ["PATHS", "owns", "router"]
