// Reference peer: Node `ws`, the same JSON frames as Chatter's /ws, no auth, no storage.
// Usage: node ws_peer.js PORT   (binds 127.0.0.1 only; exits on SIGTERM/SIGINT or after
// BENCH_PEER_MAX_S seconds, default 3600, so a forgotten peer stops by itself).
// Rooms: a client may send {"type":"hello","rooms":["r1"]} (a bench-only extension);
// without it the client joins the single default room "r".
'use strict';
const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 9001);
const server = http.createServer((req, res) => { res.writeHead(200); res.end('{"status":"ok"}'); });
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 64 * 1024 });
const rooms = new Map(); // room -> Set<ws>
let seq = 0;
let anon = 0;

function join(ws, room) {
  let s = rooms.get(room);
  if (!s) { s = new Set(); rooms.set(room, s); }
  s.add(ws);
}

wss.on('connection', (ws) => {
  ws.user = null;
  ws.rooms = [];
  ws.on('message', (data, isBinary) => {
    let m;
    try { m = JSON.parse(data); } catch { ws.send('{"type":"error","code":"INVALID_INPUT","message":"bad json","ref":null}'); return; }
    switch (m.type) {
      case 'hello': {
        ws.user = typeof m.user === 'string' ? m.user : 'peer' + (++anon);
        ws.rooms = Array.isArray(m.rooms) && m.rooms.length ? m.rooms.map(String) : ['r'];
        for (const r of ws.rooms) join(ws, r);
        ws.send(JSON.stringify({ type: 'ready', epoch: 'peer', seq, user: { username: ws.user, name: ws.user, online: true, last_seen: null }, online: [] }));
        break;
      }
      case 'send': {
        if (ws.user === null) { ws.close(1008); return; }
        const room = String(m.room ?? 'r');
        const id = ++seq;
        const created_at = new Date().toISOString();
        ws.send(JSON.stringify({ type: 'ack', client_msg_id: m.client_msg_id, id, seq: id, room, created_at }));
        // Serialise once per event, not once per recipient.
        const frame = Buffer.from(JSON.stringify({ type: 'message', id, seq: id, room, sender: ws.user, body: m.body, client_msg_id: m.client_msg_id, created_at }));
        const members = rooms.get(room);
        if (members) for (const c of members) if (c.readyState === WebSocket.OPEN) c.send(frame, { binary: false });
        break;
      }
      case 'ping': ws.send('{"type":"pong"}'); break;
      default: ws.send(JSON.stringify({ type: 'error', code: 'INVALID_INPUT', message: 'unknown type', ref: m.type ?? null }));
    }
  });
  ws.on('close', () => { for (const r of ws.rooms) rooms.get(r)?.delete(ws); });
  ws.on('error', () => {});
});

server.listen(port, '127.0.0.1', 4096, () => { console.log(`ws peer listening on 127.0.0.1:${port}`); });
const stop = () => { for (const c of wss.clients) c.terminate(); server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, Number(process.env.BENCH_PEER_MAX_S || 3600) * 1000).unref();
