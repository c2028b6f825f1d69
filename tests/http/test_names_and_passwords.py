"""What a name and a password may be (issue #13 items 10 and 12).

Names (display and room names) refuse control characters, bidirectional
controls (U+202E shows "evil" as "live") and other invisible format
characters, and keep ZWJ/ZWNJ and emoji tag sequences.  Message bodies keep
everything but NUL.  Passwords refuse the most common ones (zxcvbn's list)
at sign-up, password change, reset and ``chatter create-user``.
"""

from __future__ import annotations

import json

import pytest
import trio
from apikit import cfg, err
from helpers import PASSWORD, bearer, cmid, register, running_app, system_of, user

from chatter import common_passwords
from chatter.errors import Invalid
from chatter.service import password_reset, validation

BAD_NAMES = {
    "NUL": "a\x00b", "ESC": "red\x1b[31m", "tab": "a\tb", "DEL": "a\x7fb", "C1 NEL": "a\x85b",
    "RLO": "\u202eevil", "LRO": "a\u202db", "RLE": "a\u202bb", "PDF": "a\u202cb", "RLI": "a\u2067b",
    "FSI": "a\u2068b", "PDI": "a\u2069b", "RLM": "a\u200fb", "LRM": "a\u200eb", "ALM": "a\u061cb",
    "ZWSP": "a\u200bb", "word joiner": "a\u2060b", "BOM": "a\ufeffb", "soft hyphen": "a\u00adb",
    "line separator": "a\u2028b", "paragraph separator": "a\u2029b", "lone tag": "a\U000e0041b",
    "interlinear annotation": "a\ufff9b",
}
GOOD_NAMES = {
    "accents and emoji": "Zoë 🦊", "ZWJ emoji": "👩\u200d💻 dev", "ZWNJ (Persian)": "می\u200cخواهم",
    "England flag": "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f fan",
    "Arabic": "مرحبا", "Hebrew": "שלום", "CJK": "李小龙", "variation selector": "❤\ufe0f",
}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_policy_refuses_invisible_and_control_characters_in_names(case):
    for check in (validation.display_name, validation.room_name):
        with pytest.raises(Invalid, match="must not contain"):
            check(BAD_NAMES[case])


@pytest.mark.parametrize("case", sorted(GOOD_NAMES))
def test_policy_keeps_real_world_names(case):
    assert validation.display_name(GOOD_NAMES[case]) == GOOD_NAMES[case]
    assert validation.room_name(GOOD_NAMES[case]) == GOOD_NAMES[case]


async def test_every_name_entry_point_refuses_bidi_controls_and_changes_nothing(tmp_path):
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            room = await (await c.post("/api/rooms", json={"name": "Plain"}, headers=bearer(t))).get_json()
            head = await system_of(app).store.head()
            for name in (BAD_NAMES["RLO"], BAD_NAMES["NUL"], BAD_NAMES["ZWSP"], BAD_NAMES["ESC"]):
                body = await err(await c.post("/api/users", json={"username": "mallory", "name": name,
                                                                  "password": PASSWORD}), 400, "INVALID_INPUT")
                assert body["error"]["message"].startswith("name must not contain")
                await err(await c.patch("/api/me", json={"name": name}, headers=bearer(t)), 400, "INVALID_INPUT")
                await err(await c.post("/api/rooms", json={"name": name}, headers=bearer(t)), 400, "INVALID_INPUT")
                await err(await c.patch(f"/api/rooms/{room['id']}", json={"name": name}, headers=bearer(t)),
                          400, "INVALID_INPUT")
            assert await system_of(app).store.head() == head
            assert await system_of(app).store.get_user("mallory") is None
            me = await (await c.get("/api/me", headers=bearer(t))).get_json()
            assert me["name"] == "Alice"
            r = await c.patch("/api/me", json={"name": GOOD_NAMES["ZWJ emoji"]}, headers=bearer(t))
            assert r.status_code == 200 and (await r.get_json())["name"] == GOOD_NAMES["ZWJ emoji"]


async def test_bodies_keep_bidi_text_but_refuse_nul_on_rest_and_socket(tmp_path):
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            c = app.test_client(use_cookies=False)
            t = await user(c, "alice")
            room = (await (await c.post("/api/rooms", json={"name": "R"}, headers=bearer(t))).get_json())["id"]
            r = await c.post(f"/api/rooms/{room}/messages", json={"client_msg_id": cmid(), "body": "a\x00b"},
                             headers=bearer(t))
            body = await err(r, 400, "INVALID_INPUT")
            assert body["error"]["message"] == "body must not contain NUL (U+0000)"
            r = await c.post(f"/api/rooms/{room}/messages",
                             json={"client_msg_id": cmid(), "body": "quote: \u202eevil\u202c\tend\nline"},
                             headers=bearer(t))
            assert r.status_code == 201
            async with c.websocket("/ws", headers=bearer(t)) as ws:
                await ws.send(json.dumps({"type": "hello"}))
                await ws.send(json.dumps({"type": "send", "room": room, "client_msg_id": "nul", "body": "x\x00"}))
                while True:
                    data = json.loads(await ws.receive())
                    frames = data if isinstance(data, list) else [data]
                    errors = [f for f in frames if f.get("type") == "error"]
                    if errors:
                        break
            assert errors[0]["code"] == "INVALID_INPUT" and errors[0]["ref"] == "nul"
            history = await (await c.get(f"/api/rooms/{room}/messages", headers=bearer(t))).get_json()
            assert [m["body"] for m in history["messages"]] == ["quote: \u202eevil\u202c\tend\nline"]


COMMON = ["password", "12345678", "Password1", "  iloveyou  ", "qwertyuiop", "1q2w3e4r5t", "trustno1", "sunshine"]


def test_the_common_list_is_loaded_from_the_package():
    assert common_passwords.count(validation.MIN_PASSWORD) == 11_611
    for p in COMMON:
        assert common_passwords.is_common(p, validation.MIN_PASSWORD), p
    for p in (PASSWORD, "a long enough password é", "long enough new", "bench-password-123"):
        assert not common_passwords.is_common(p, validation.MIN_PASSWORD), p


async def test_common_passwords_are_refused_at_sign_up_change_and_reset(tmp_path):
    with trio.fail_after(30):
        async with running_app(cfg(tmp_path), memory=False) as app:  # the reset link is written to the file
            c = app.test_client(use_cookies=False)
            for i, p in enumerate(COMMON):
                body = await err(await c.post("/api/users", json={"username": f"weak{i}", "name": "W", "password": p}),
                                 400, "INVALID_INPUT")
                assert body["error"]["message"] == "password is one of the most common passwords; choose another"
            t = await user(c, "alice")  # "correct horse battery" stays accepted
            body = await err(await c.post("/api/me/password", json={"current": PASSWORD, "new": "password1"},
                                          headers=bearer(t)), 400, "INVALID_INPUT")
            assert body["error"]["message"].startswith("new is one of the most common")
            link = await trio.to_thread.run_sync(lambda: password_reset.create_reset_link(app.extensions["chatter"].cfg, "alice"))
            token = link.url.split("#", 1)[1]
            await err(await c.post("/api/auth/reset", json={"token": token, "new": "football"}), 400, "INVALID_INPUT")
            r = await c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
            assert r.status_code == 200  # nothing changed
            assert all([await system_of(app).store.get_user(f"weak{i}") is None for i in range(len(COMMON))])
            await register(c, "strong", password="a long enough password é")
