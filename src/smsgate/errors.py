"""One error hierarchy for every rule the core enforces.

Each surface renders these in its own shape; the core never knows which surface called.

    SmsgateError (status, code)
    ├── InvalidRequest        400/422  bad input the caller can fix
    ├── Unauthenticated       401
    ├── Forbidden             403      suspended account, wrong scope
    ├── NotFound              404      unknown id, or another account's id
    ├── Conflict              409/422  idempotency key reused with another body
    ├── PaymentRequired       402      the balance cannot cover the send
    └── Unavailable           503      database busy or unreachable
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


class Unavailable(SmsgateError):
    status = 503
    code = "unavailable"
