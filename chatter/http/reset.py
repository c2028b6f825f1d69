"""Password-reset links made by ``chatter reset-password USER``.

``POST /api/auth/reset {"token", "new"}`` sets the new password, bumps the
user's token version (every session and open socket of theirs ends, 4001)
and burns the link.  The token policy (hash lookup, expiry, single use)
lives in ``chatter.ops``; this module is only the HTTP side.

``GET /reset`` is a small stand-alone page (no inline script, so the app's
CSP holds) that reads the token from the URL fragment, which browsers never
send to the server, and posts it with the new password.

Single use: the entry is marked used before the password is hashed, under
a per-app lock, so two concurrent requests cannot both pass (one server
process owns the database).
"""

from __future__ import annotations

import time

import trio
from quart import Blueprint, Response, current_app
from quart_schema import document_request, document_response, hide

from chatter import ops, policy
from chatter import wire as s
from chatter.errors import Invalid, RateLimited
from chatter.http.rest import body, browser_write_check, client_ip, deps, no_content
from chatter.http.wire import field

reset = Blueprint("reset", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Chatter: choose a new password</title></head>
<body><main>
<h1>Choose a new password</h1>
<form id="reset-form">
<p><label>New password (8 characters or more)<br>
<input id="new" type="password" autocomplete="new-password" minlength="8" maxlength="1024" required></label></p>
<p><label>Again<br><input id="again" type="password" autocomplete="new-password" required></label></p>
<p><button type="submit">Set password</button></p>
</form>
<p id="status" role="status"></p>
<p><a href="/">Back to Chatter</a></p>
</main><script src="/reset.js"></script></body></html>
"""

_SCRIPT = """'use strict';
(function () {
  var token = decodeURIComponent(location.hash.slice(1));
  var form = document.getElementById('reset-form');
  var status = document.getElementById('status');
  if (!token) { status.textContent = 'This link has no token. Ask an administrator for a new link.'; form.hidden = true; return; }
  history.replaceState(null, '', location.pathname);  // keep the token out of the history
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var pw = document.getElementById('new').value;
    if (pw !== document.getElementById('again').value) { status.textContent = 'The two passwords differ.'; return; }
    status.textContent = 'Saving...';
    fetch('/api/auth/reset', {method: 'POST', headers: {'Content-Type': 'application/json'},
                              body: JSON.stringify({token: token, 'new': pw})})
      .then(function (r) {
        if (r.status === 204) { form.hidden = true; status.textContent = 'Password changed. You can log in now.'; return; }
        return r.json().then(function (b) { status.textContent = (b && b.error && b.error.message) || ('Error ' + r.status); });
      })
      .catch(function () { status.textContent = 'The server did not answer; try again.'; });
  });
})();
"""


def _lock() -> trio.Lock:
    lock: trio.Lock = current_app.extensions.setdefault("chatter_reset_lock", trio.Lock())
    return lock


@reset.get("/reset")
@hide
async def reset_page() -> Response:
    resp = Response(_PAGE, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@reset.get("/reset.js")
@hide
async def reset_script() -> Response:
    resp = Response(_SCRIPT, mimetype="text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@reset.post("/api/auth/reset")
@document_request(s.ResetPassword)
@document_response(None, 204)
async def reset_password() -> Response:
    """Set a new password with a one-time link from ``chatter reset-password``; every session ends."""
    d = deps()
    browser_write_check()  # like login: a form on another site must not set a password
    ip = client_ip()
    wait = d.guard.address_verdict(ip, time.monotonic()).retry_after
    if wait is not None:
        raise RateLimited(
            f"too many attempts from this address; try again in {int(wait) + 1} s", retry_after=wait
        )
    data = await body()
    token = field(data, "token")
    if not isinstance(token, str) or not 1 <= len(token) <= 256:
        raise Invalid("token must be the text after # in the reset link")
    new = policy.password(field(data, "new"), "new")
    store = d.system.store
    key = ops.reset_key(token)
    async with _lock():
        now = time.time()
        raw = await store.get_meta(key)
        try:
            username = ops.reset_username(raw, now)
        except Exception:
            d.guard.count_address(ip, time.monotonic())  # guessing tokens costs the login budget
            raise
        assert raw is not None
        await store.set_meta(key, ops.used_entry(raw, now))
    user = await store.set_password(policy.username(username), await d.passwords.hash(new, key=("address", ip)))
    await d.system.sessions_revoked(user.username, user.token_version)
    return no_content()
