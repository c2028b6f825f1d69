"""Helpers shared by the REST API suites (test_api_*.py)."""

from __future__ import annotations

import re
from typing import Any

from helpers import make_config

# Rate limits high enough that suites registering many users never hit them
# (the limits themselves are tested with their own, low settings).
LIMITS = {
    "auth__login_per_ip_per_minute": 10_000,
    "auth__login_per_account_per_minute": 10_000,
    "auth__register_per_ip_per_minute": 10_000,
}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JSON = {"Content-Type": "application/json"}


def cfg(tmp_path: Any, **kw: Any) -> Any:
    return make_config(tmp_path, **{**LIMITS, **kw})


async def err(r: Any, status: int, code: str) -> dict[str, Any]:
    """Assert the protocol's error shape, status and code; never a traceback."""
    text = await r.get_data(as_text=True)
    assert r.status_code == status, (r.status_code, text)
    assert r.mimetype == "application/json", r.mimetype
    body = await r.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in text
    return body  # type: ignore[no-any-return]
