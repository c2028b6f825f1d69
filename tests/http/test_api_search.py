"""GET /api/search (PROTOCOL 11) through the app: shape, filters, paging, refusals, leaks.

The property test sends arbitrary Unicode as ``q`` (NUL, unpaired surrogates as their UTF-8
bytes, bidirectional marks, FTS5 operators, up to 10,000 characters) and other parameters:
every answer is 200 or a 400 with the protocol's error shape (404 for a ``room`` that is none of the
caller's), never a 500, never SQLite's text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import trio
from apikit import cfg, err
from helpers import bearer, cmid, running_app, user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatter import wire


class Team:
    def __init__(self, c: Any, t: dict[str, str], rooms: dict[str, str]) -> None:
        self.c, self.t, self.rooms = c, t, rooms

    async def post(self, who: str, room: str, body: str) -> dict[str, Any]:
        r = await self.c.post(f"/api/rooms/{self.rooms[room]}/messages", json={"client_msg_id": cmid(), "body": body},
                              headers=bearer(self.t[who]))
        assert r.status_code == 201
        return await r.get_json()  # type: ignore[no-any-return]

    async def search(self, who: str, query: str) -> Any:
        return await self.c.get(f"/api/search?{query}", headers=bearer(self.t[who]))

    async def found(self, who: str, query: str) -> dict[str, Any]:
        r = await self.search(who, query)
        assert r.status_code == 200, await r.get_data(as_text=True)
        return await r.get_json()  # type: ignore[no-any-return]


async def team(app: Any) -> Team:
    """alice and bob in General; carol and dave in Other; nobody in both."""
    c = app.test_client(use_cookies=False)
    t = {n: await user(c, n) for n in ("alice", "bob", "carol", "dave")}
    rooms = {}
    for name, owner, member in (("General", "alice", "bob"), ("Other", "carol", "dave")):
        r = await c.post("/api/rooms", json={"name": name, "members": [member]}, headers=bearer(t[owner]))
        rooms[name] = (await r.get_json())["id"]
    return Team(c, t, rooms)


async def test_results_shape_snippets_and_paging(tmp_path: Any) -> None:
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            tm = await team(app)
            posted = [await tm.post("alice", "General", f"the <b>café</b> menu number {i}") for i in range(5)]
            got = await tm.found("bob", "q=cafe+num&limit=2")
            wire.encode(got)  # plain JSON
            assert set(got) == {"results", "next", "indexing"} and got["indexing"] is False
            assert [r["message"] for r in got["results"]] == [posted[4], posted[3]]
            assert got["results"][0]["snippet"] == [["the <b>", False], ["café", True], ["</b> menu ", False],
                                                    ["number", True], [" 4", False]]
            seen = [r["message"]["id"] for r in got["results"]]
            while got["next"]:
                got = await tm.found("bob", f"q=cafe+num&limit=2&cursor={got['next']}")
                seen += [r["message"]["id"] for r in got["results"]]
            assert seen == [m["id"] for m in reversed(posted)]
            assert (await tm.found("bob", "q=cafe"))["next"] is None


async def test_filters(tmp_path: Any) -> None:
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            tm = await team(app)
            r = await tm.c.post("/api/rooms", json={"name": "Side", "members": ["bob"]}, headers=bearer(tm.t["alice"]))
            tm.rooms["Side"] = (await r.get_json())["id"]
            await tm.post("alice", "General", "status report one")
            await tm.post("bob", "General", "status report two")
            await tm.post("bob", "Side", "status report three")

            async def bodies(query: str) -> list[str]:
                return [x["message"]["body"] for x in (await tm.found("bob", query))["results"]]

            assert await bodies("q=report") == ["status report three", "status report two", "status report one"]
            assert await bodies(f"q=report&room={tm.rooms['Side']}") == ["status report three"]
            assert await bodies("q=report+in:%23side") == ["status report three"]
            assert await bodies("q=report&from=alice") == ["status report one"]
            assert await bodies("q=report+from:bob") == ["status report three", "status report two"]
            assert await bodies("q=report+from:bob&from=alice") == []
            assert await bodies("q=from:alice") == ["status report one"]
            assert await bodies("q=report&before=2000-01-01T00:00:00Z") == []
            assert len(await bodies("q=report&after=2000-01-01T00:00:00.000Z")) == 3
            assert await bodies("q=report+before:2000-01-01") == []


async def test_no_leaks_across_rooms_or_after_removal(tmp_path: Any) -> None:
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            tm = await team(app)
            await tm.post("alice", "General", "general secret alpha")
            await tm.post("carol", "Other", "other secret beta")
            assert [x["message"]["body"] for x in (await tm.found("bob", "q=secret"))["results"]] == [
                "general secret alpha"]
            assert [x["message"]["body"] for x in (await tm.found("dave", "q=secret"))["results"]] == [
                "other secret beta"]
            await err(await tm.search("bob", f"q=secret&room={tm.rooms['Other']}"), 404, "NOT_FOUND")
            r = await tm.c.delete(f"/api/rooms/{tm.rooms['General']}/members/bob", headers=bearer(tm.t["alice"]))
            assert r.status_code == 204
            assert (await tm.found("bob", "q=secret"))["results"] == []
            await err(await tm.search("bob", f"q=secret&room={tm.rooms['General']}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("query", [
    "", "q=", "q=+++", "q=%21%3F.", "q=" + "a" * 257, "q=%E4%BA%AC", "q=a&limit=0", "q=a&limit=101", "q=a&limit=x",
    "q=a&before=yesterday", "q=a&after=2026-01-01", "q=a&from=no", "q=a&cursor=nope", "q=a&cursor=" + "A" * 40,
    "q=from:x", "q=before:soon", "q=a&room=" + "r" * 65,
])
async def test_refusals_are_400(tmp_path: Any, query: str) -> None:
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            tm = await team(app)
            await err(await tm.search("alice", query), 400, "INVALID_INPUT")


async def test_search_needs_a_session(tmp_path: Any) -> None:
    with trio.fail_after(20):
        async with running_app(cfg(tmp_path)) as app:
            await err(await app.test_client().get("/api/search?q=a"), 401, "UNAUTHENTICATED")


ODD = st.sampled_from(["\x00", "\ud800", "\udc00", "\u200f", "\u202e", "\u2066", '"', "*", ":", "^", "-", "(", ")",
                       "NEAR", "AND", "OR", "NOT", "from:", "in:#", "before:", "after:", " ", "\n", "東京", "é",
                       "%", "&", "=", "#", "+", "👩\u200d💻", "\U0010ffff", "'", ";", "--", "/*", "\\"])
QUERY = st.one_of(st.text(max_size=300), st.lists(st.one_of(ODD, st.text(max_size=4)), max_size=50).map("".join),
                  st.text(min_size=9000, max_size=10_000))
PARAM = st.one_of(st.none(), QUERY, st.sampled_from(["2026-01-01T00:00:00Z", "alice", "20", "0", "-1", "1e3"]))


def _enc(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@pytest.fixture(scope="module")
def hyp_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("search-hyp")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(q=QUERY, extra=st.dictionaries(st.sampled_from(["room", "from", "before", "after", "limit", "cursor"]), PARAM,
                                      max_size=3))
def test_any_input_is_200_or_400_never_500(hyp_dir: Any, q: str, extra: dict[str, str | None]) -> None:
    async def main() -> None:
        with trio.fail_after(60):
            async with running_app(cfg(hyp_dir)) as app:
                c = app.test_client(use_cookies=False)
                token = await user(c, "alice")
                r = await c.post("/api/rooms", json={"name": "G"}, headers=bearer(token))
                rid = (await r.get_json())["id"]
                for body in ("東京タワー NEAR the café", 'say "hi" * -x ^y', "e\u0301t\u00e9 \u202eevil"):
                    await c.post(f"/api/rooms/{rid}/messages", json={"client_msg_id": cmid(), "body": body},
                                 headers=bearer(token))
                parts = [f"q={_enc(q)}"] + [f"{k}={_enc(v)}" for k, v in extra.items() if v is not None]
                resp = await c.get("/api/search?" + "&".join(parts), headers=bearer(token))
                text = await resp.get_data(as_text=True)
                # 404: a room id that is none of alice's rooms (NOT_FOUND, PROTOCOL section 1)
                allowed = (200, 400, 404) if extra.get("room") else (200, 400)
                assert resp.status_code in allowed, (resp.status_code, text)
                if resp.status_code == 404:
                    await err(resp, 404, "NOT_FOUND")
                elif resp.status_code == 400:
                    message = (await err(resp, 400, "INVALID_INPUT"))["error"]["message"]
                    for leak in ("sqlite", "fts5", "syntax", "traceback", "error:", "unterminated", "malformed"):
                        assert leak not in message.lower(), message
                else:
                    body = await resp.get_json()
                    assert set(body) == {"results", "next", "indexing"}

    # one database per example: a fresh user each time
    import shutil
    shutil.rmtree(hyp_dir, ignore_errors=True)
    hyp_dir.mkdir()
    trio.run(main)
