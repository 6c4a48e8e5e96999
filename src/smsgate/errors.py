"""One error hierarchy for every rule the core enforces.

Each surface renders these in its own shape; the core never knows which surface called.

    SmsgateError (status, code)
    ├── InvalidRequest        400/422  bad input the caller can fix
    ├── Unauthenticated       401
    ├── Forbidden             403      suspended account, wrong scope
    ├── NotFound              404      unknown id, or another account's id
    ├── Conflict              409/422  idempotency key reused with another body
    ├── PaymentRequired       402      the balance cannot cover the send
    ├── TooManyRequests       429      a rate limit; carries the seconds to wait
    └── Unavailable           503      database busy or unreachable
        └── StorageFull       503      the database's disk is full
"""

from __future__ import annotations


class SmsgateError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class InvalidRequest(SmsgateError):
    status = 422
    code = "invalid_request"


class Unauthenticated(SmsgateError):
    status = 401
    code = "unauthenticated"


class Forbidden(SmsgateError):
    status = 403
    code = "forbidden"


class NotFound(SmsgateError):
    status = 404
    code = "not_found"


class Conflict(SmsgateError):
    status = 422
    code = "idempotency_conflict"


class PaymentRequired(SmsgateError):
    status = 402
    code = "insufficient_balance"


class TooManyRequests(SmsgateError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class Unavailable(SmsgateError):
    status = 503
    code = "unavailable"


class StorageFull(Unavailable):
    """The database's disk is full: nothing was stored; it needs the operator, then a retry."""

    code = "storage_full"


def retry_headers(exc: SmsgateError) -> dict[str, str] | None:
    """The ``Retry-After`` an error's answer carries, whatever the surface's shape."""
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, Unavailable):
        return {"Retry-After": "1"}
    return None
