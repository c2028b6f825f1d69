import trio
from helpers import bearer, make_config, running_app, user


async def test_register_login_and_me(tmp_path):
    with trio.fail_after(10):
        async with running_app(make_config(tmp_path)) as app:
            client = app.test_client()
            token = await user(client, "alice")
            r = await client.get("/api/me", headers=bearer(token))
            assert r.status_code == 200
            assert await r.get_json() == {"username": "alice", "name": "Alice", "online": False, "last_seen": None}


async def test_socket_hello_ready(tmp_path):
    with trio.fail_after(10):
        async with running_app(make_config(tmp_path)) as app:
            client = app.test_client()
            token = await user(client, "alice")
            async with client.websocket("/ws", headers=bearer(token)) as ws:
                await ws.send('{"type":"hello"}')
                ready = await ws.receive_json()
                assert ready["type"] == "ready"
                assert ready["user"]["username"] == "alice"
