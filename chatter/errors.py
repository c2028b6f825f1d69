"""The ChatError hierarchy: every expected failure has a stable code.

A ``ChatError`` is a client's fault or a known condition; it maps to an HTTP
status (REST) or an ``error`` frame (socket).  Any other exception is a bug:
REST answers 500 with no details, a socket closes with 1011.
"""

from __future__ import annotations


class ChatError(Exception):
    code = "INTERNAL"
    status = 500

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class Invalid(ChatError):
    code = "INVALID_INPUT"
    status = 400


class Unauthenticated(ChatError):
    code = "UNAUTHENTICATED"
    status = 401


class Forbidden(ChatError):
    code = "FORBIDDEN"
    status = 403


class NotFound(ChatError):
    code = "NOT_FOUND"
    status = 404


class Conflict(ChatError):
    code = "CONFLICT"
    status = 409


class PayloadTooLarge(ChatError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class RateLimited(ChatError):
    code = "RATE_LIMITED"
    status = 429


class Unavailable(ChatError):
    code = "UNAVAILABLE"
    status = 503


class ConfigError(Exception):
    """A bad setting: the process refuses to start and prints one line."""
