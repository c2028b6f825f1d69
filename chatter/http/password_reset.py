"""The HTTP side of password-reset links made by ``chatter reset-password USER``.

``POST /api/auth/reset {"token", "new"}`` sets the new password, bumps the
user's token version (every session and open socket of theirs ends, 4001)
and burns the link.  The rules (hash lookup, expiry, single use, what a bad
token costs) live in ``chatter.service.password_reset``.

``GET /reset`` is a small stand-alone page (no inline script, so the app's
CSP holds) that reads the token from the URL fragment, which browsers never
send to the server, and posts it with the new password.
"""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_request, document_response, hide

from chatter import wire as s
from chatter.http.rest import body, browser_write_check, client_ip, deps, no_content
from chatter.http.wire import field
from chatter.service import validation

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
    resets = deps().service.password_reset
    browser_write_check()  # like login: a form on another site must not set a password
    ip = client_ip()
    resets.admit(ip)
    data = await body()
    token = validation.reset_token(field(data, "token"))
    new = validation.password(field(data, "new"), "new")
    await resets.reset(token, new, ip=ip)
    return no_content()
