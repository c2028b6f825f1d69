"""Pure input validation: what a well-formed username, name, password, body... is.

No I/O and no clock.  Each function takes the raw value (anything a JSON
body or a command line can hold) and returns the clean value or raises
``Invalid`` with the message clients see.  The adapters (REST, the socket,
the CLI) parse their input with these, in their own order, and hand the use
cases of this package clean, typed values.  Who may do what is ``permissions.py``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from chatter import common_passwords
from chatter.errors import Invalid
from chatter.store.models import Username

USERNAME_RE = re.compile(r"[a-z0-9_]{3,32}")
MAX_NAME = 64
MAX_ROOM_NAME = 100
MAX_BODY = 4000
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_CLIENT_MSG_ID = 64
MAX_CREATE_MEMBERS = 1000
HISTORY_DEFAULT = 50
HISTORY_MAX = 200


def username(raw: Any, field: str = "username") -> Username:
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be a string")
    value = raw.lower()
    if not USERNAME_RE.fullmatch(value):
        raise Invalid(f"{field} must be 3-32 characters of a-z, 0-9 and _")
    return Username(value)


# Names (display and room names) are shown next to other people's text, so
# nothing in them may change how the text around them reads or hide what
# they say: no control characters (Cc: NUL, ESC, tab, newline...), no line
# or paragraph separators, no bidirectional embeddings, overrides, isolates
# or marks (U+202E shows "evil" as "live"), and no other invisible format
# characters (zero-width space, word joiner, BOM, soft hyphen...).  Allowed
# format characters: ZWNJ (U+200C, needed in Persian and Indic scripts), ZWJ
# (U+200D, emoji sequences such as 👩‍💻) and the tag characters of an emoji
# tag sequence (the flags of England, Scotland, Wales).  The UI also isolates
# every name (<bdi>), for names stored before this rule.
_BIDI = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
_JOINERS = frozenset({0x200C, 0x200D})
_EMOJI_TAG_SEQUENCE = re.compile("\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F")


def _name_refusal(value: str) -> str | None:
    """What is wrong with the characters of a name, or None."""
    for c in _EMOJI_TAG_SEQUENCE.sub("\U0001F3F4", value):
        cp = ord(c)
        category = unicodedata.category(c)
        if category == "Cc":
            return f"control characters (U+{cp:04X})"
        if cp in _BIDI:
            return f"bidirectional formatting characters (U+{cp:04X})"
        if category in ("Zl", "Zp", "Cs") or (category == "Cf" and cp not in _JOINERS):
            return f"invisible formatting characters (U+{cp:04X})"
    return None


def _text(raw: Any, field: str, maximum: int) -> str:
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be a string")
    value = raw.strip()
    if not value:
        raise Invalid(f"{field} must not be empty")
    if len(value) > maximum:
        raise Invalid(f"{field} must be at most {maximum} characters")
    refusal = _name_refusal(value)
    if refusal is not None:
        raise Invalid(f"{field} must not contain {refusal}")
    return value


def display_name(raw: Any) -> str:
    return _text(raw, "name", MAX_NAME)


def room_name(raw: Any) -> str:
    return _text(raw, "name", MAX_ROOM_NAME)


def password(raw: Any, field: str = "password") -> str:
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be a string")
    if len(raw) < MIN_PASSWORD:
        raise Invalid(f"{field} must be at least {MIN_PASSWORD} characters")
    if len(raw) > MAX_PASSWORD:
        raise Invalid(f"{field} must be at most {MAX_PASSWORD} characters")
    if common_passwords.is_common(raw, MIN_PASSWORD):
        raise Invalid(f"{field} is one of the most common passwords; choose another")
    return raw


def body(raw: Any) -> str:
    """A message body: trailing whitespace trimmed, then 1..4000 characters, and no NUL.

    Bodies are the user's own text and keep everything else (newlines, tabs,
    bidirectional text: the UI isolates each message).  NUL is refused: no
    one types it, and C-string consumers of a message (notifications, logs,
    terminals) cut the text there, so two readers would see different bodies.
    """
    if not isinstance(raw, str):
        raise Invalid("body must be a string")
    value = raw.rstrip()
    if not value.strip():
        raise Invalid("body must not be empty")
    if len(value) > MAX_BODY:
        raise Invalid(f"body must be at most {MAX_BODY} characters")
    if "\x00" in value:
        raise Invalid("body must not contain NUL (U+0000)")
    return value


def client_msg_id(raw: Any) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw) <= MAX_CLIENT_MSG_ID:
        raise Invalid(f"client_msg_id must be a string of 1-{MAX_CLIENT_MSG_ID} characters")
    return raw


def room_id(raw: Any) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw) <= 64:
        raise Invalid("room must be a room id string")
    return raw


def _integral(raw: Any) -> Any:
    """JSON has one number type: ``3.0`` is the integer 3 (as JSON Schema and the OpenAPI document say)."""
    if isinstance(raw, float) and raw.is_integer() and abs(raw) <= 2**53:
        return int(raw)
    return raw


def positive_int(raw: Any, field: str) -> int:
    raw = _integral(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 2**63:
        raise Invalid(f"{field} must be a positive integer")
    return raw


def seq_cursor(raw: Any, field: str = "since") -> int:
    raw = _integral(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < 2**63:
        raise Invalid(f"{field} must be a non-negative integer")
    return raw


def role(raw: Any, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise Invalid(f"role must be one of {', '.join(allowed)}")
    return str(raw)


def query_int(raw: str | None, field: str, *, default: int | None, minimum: int, maximum: int) -> int | None:
    """A query-string integer (``?limit=``), range-checked."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise Invalid(f"{field} must be an integer")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise Invalid(f"{field} must be between {minimum} and {maximum}")
    return value


def credentials(raw_username: Any, raw_password: Any) -> tuple[str, str]:
    """What a login sends: (lower-cased username, password).  Not the sign-up rules: a login with a
    name that could never be an account is simply wrong (``Unauthenticated``), not invalid."""
    if not isinstance(raw_username, str) or not isinstance(raw_password, str):
        raise Invalid("username and password must be strings")
    if len(raw_password) > MAX_PASSWORD or len(raw_username) > 64:
        raise Invalid("username or password too long")
    return raw_username.lower(), raw_password


def current_password(raw: Any) -> str:
    """The password a user types to confirm a change (any string a password could be)."""
    if not isinstance(raw, str) or len(raw) > MAX_PASSWORD:
        raise Invalid("current must be a string")
    return raw


def reset_token(raw: Any) -> str:
    """The token of a password-reset link (the text after ``#``)."""
    if not isinstance(raw, str) or not 1 <= len(raw) <= 256:
        raise Invalid("token must be the text after # in the reset link")
    return raw
