// A small in-memory stand-in for `chatter serve`, following PROTOCOL.md, for
// UI development when no Python server is running:
//   npm run build && node dev/mock-server.mjs [port]
// Not used by the tests (the e2e suite runs against the real server).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const port = Number(process.argv[2] ?? 8080);
const epoch = crypto.randomUUID();
const GRACE_MS = Number(process.env.MOCK_PRESENCE_GRACE_MS ?? 10000);

const users = new Map(); // username -> {username,name,password,last_seen,ver}
const sessions = new Map(); // token -> {username, ver}
const rooms = new Map(); // id -> {id,kind,name,members: Map(username->{role,read_up_to}),created_at}
const messages = []; // all
const events = []; // durable, with seq
const sockets = new Map(); // username -> Set(ws)
const offlineTimers = new Map();
let seq = 0;
let msgId = 0;
const sent = new Map(); // `${user}\0${cid}` -> message

const now = () => new Date().toISOString();
const pubUser = (u) => ({
  username: u.username,
  name: u.name,
  online: (sockets.get(u.username)?.size ?? 0) > 0,
  last_seen: u.last_seen,
});
const memberOut = (r, username) => ({
  username,
  name: users.get(username)?.name ?? username,
  role: r.members.get(username).role,
  read_up_to: r.members.get(username).read_up_to,
});
const lastMsg = (r) => {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].room === r.id) return messages[i];
  return null;
};
function roomOut(r, me) {
  const cur = r.members.get(me)?.read_up_to ?? 0;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    members: [...r.members.keys()].map((u) => memberOut(r, u)),
    last_message: lastMsg(r),
    unread: messages.filter((m) => m.room === r.id && m.id > cur && m.sender !== me).length,
    created_at: r.created_at,
  };
}
const shareRoom = (a, b) => [...rooms.values()].some((r) => r.members.has(a) && r.members.has(b));
function emitTo(usernames, ev) {
  for (const u of usernames) for (const ws of sockets.get(u) ?? []) if (ws.ready) ws.send(JSON.stringify(ev));
}
function durable(ev, audienceIt) {
  const audience = [...audienceIt];
  const e = { ...ev, seq: ++seq };
  events.push({ e, audience });
  emitTo(audience, e);
  return e;
}

function err(res, status, code, message) {
  json(res, status, { error: { code, message } });
}
function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body === null ? '' : JSON.stringify(body));
}
function cookieUser(req) {
  const m = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '');
  const s = m && sessions.get(m[1]);
  if (!s) return null;
  const u = users.get(s.username);
  return u && u.ver === s.ver ? u : null;
}
async function body(req) {
  let d = '';
  for await (const c of req) d += c;
  try {
    return d ? JSON.parse(d) : {};
  } catch {
    return undefined;
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (p === '/healthz') return json(res, 200, { status: 'ok' });
  if (!p.startsWith('/api/')) {
    const file = path.join(dist, path.normalize(p).replace(/^(\.\.[/\\])+/, ''));
    try {
      const data = await readFile(p !== '/' && file.startsWith(dist) ? file : path.join(dist, 'index.html'));
      const ext = path.extname(p);
      const type =
        { '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' }[ext] ??
        'text/html';
      res.writeHead(200, { 'Content-Type': type, 'Content-Security-Policy': "default-src 'self'" });
      return res.end(data);
    } catch {
      const data = await readFile(path.join(dist, 'index.html'));
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Security-Policy': "default-src 'self'" });
      return res.end(data);
    }
  }
  const method = req.method;
  if (method !== 'GET' && !(req.headers['content-type'] ?? '').startsWith('application/json'))
    return err(res, 403, 'FORBIDDEN', 'json only');
  const b = method === 'GET' ? {} : await body(req);
  if (b === undefined) return err(res, 400, 'INVALID_INPUT', 'bad json');
  if (p === '/api/users' && method === 'POST') {
    const username = String(b.username ?? '').toLowerCase();
    if (!/^[a-z0-9_]{3,32}$/.test(username))
      return err(res, 400, 'INVALID_INPUT', 'username must match ^[a-z0-9_]{3,32}$');
    if (typeof b.password !== 'string' || b.password.length < 8)
      return err(res, 400, 'INVALID_INPUT', 'password too short');
    if (users.has(username)) return err(res, 409, 'CONFLICT', 'username taken');
    const u = { username, name: String(b.name || username), password: b.password, last_seen: null, ver: 0 };
    users.set(username, u);
    return json(res, 201, { user: pubUser(u) });
  }
  if (p === '/api/auth/login' && method === 'POST') {
    const u = users.get(String(b.username ?? '').toLowerCase());
    if (!u || u.password !== b.password) return err(res, 401, 'UNAUTHENTICATED', 'bad credentials');
    const token = crypto.randomUUID();
    sessions.set(token, { username: u.username, ver: u.ver });
    return json(
      res,
      200,
      { user: pubUser(u), token, expires_at: now() },
      { 'Set-Cookie': `session=${token}; HttpOnly; SameSite=Strict; Path=/` },
    );
  }
  const me = cookieUser(req);
  if (!me) return err(res, 401, 'UNAUTHENTICATED', 'log in');
  if (p === '/api/auth/logout' && method === 'POST') {
    me.ver++;
    for (const ws of sockets.get(me.username) ?? []) ws.close(4001, 'logged out');
    return json(res, 204, null);
  }
  if (p === '/api/me' && method === 'GET') return json(res, 200, pubUser(me));
  if (p === '/api/me' && method === 'PATCH') {
    me.name = String(b.name);
    return json(res, 200, pubUser(me));
  }
  if (p === '/api/me/password' && method === 'POST') {
    if (b.current !== me.password) return err(res, 401, 'UNAUTHENTICATED', 'wrong password');
    me.password = b.new;
    return json(res, 204, null);
  }
  if (p === '/api/users' && method === 'GET') {
    const q = (url.searchParams.get('q') ?? '').toLowerCase();
    return json(res, 200, {
      users: [...users.values()]
        .filter((u) => u.username.startsWith(q))
        .slice(0, 20)
        .map(pubUser),
    });
  }
  let m;
  if ((m = /^\/api\/users\/([^/]+)$/.exec(p))) {
    const u = users.get(m[1]);
    return u ? json(res, 200, pubUser(u)) : err(res, 404, 'NOT_FOUND', 'no user');
  }
  if (p === '/api/rooms' && method === 'GET') {
    const list = [...rooms.values()].filter((r) => r.members.has(me.username)).map((r) => roomOut(r, me.username));
    list.sort((x, y) =>
      (y.last_message?.created_at ?? y.created_at) > (x.last_message?.created_at ?? x.created_at) ? 1 : -1,
    );
    return json(res, 200, { rooms: list });
  }
  if (p === '/api/rooms' && method === 'POST') {
    const r = {
      id: crypto.randomBytes(6).toString('hex'),
      kind: 'group',
      name: String(b.name),
      members: new Map(),
      created_at: now(),
    };
    r.members.set(me.username, { role: 'owner', read_up_to: 0 });
    rooms.set(r.id, r);
    durable({ type: 'member_added', room: r.id, username: me.username, role: 'owner' }, [me.username]);
    for (const u of b.members ?? []) {
      if (!users.has(u) || r.members.has(u)) continue;
      r.members.set(u, { role: 'member', read_up_to: 0 });
      durable({ type: 'member_added', room: r.id, username: u, role: 'member' }, r.members.keys());
    }
    return json(res, 201, roomOut(r, me.username));
  }
  if (p === '/api/dms' && method === 'POST') {
    const other = users.get(b.username);
    if (!other) return err(res, 404, 'NOT_FOUND', 'no user');
    let r = [...rooms.values()].find(
      (x) => x.kind === 'dm' && x.members.has(me.username) && x.members.has(other.username),
    );
    if (r) return json(res, 200, roomOut(r, me.username));
    r = { id: crypto.randomBytes(6).toString('hex'), kind: 'dm', name: '', members: new Map(), created_at: now() };
    r.members.set(me.username, { role: 'member', read_up_to: 0 });
    r.members.set(other.username, { role: 'member', read_up_to: 0 });
    rooms.set(r.id, r);
    durable({ type: 'member_added', room: r.id, username: other.username, role: 'member' }, r.members.keys());
    return json(res, 201, roomOut(r, me.username));
  }
  if ((m = /^\/api\/rooms\/([^/]+)(\/.*)?$/.exec(p))) {
    const r = rooms.get(m[1]);
    if (!r || !r.members.has(me.username)) return err(res, 404, 'NOT_FOUND', 'no room');
    const role = r.members.get(me.username).role;
    const rest = m[2] ?? '';
    if (!rest && method === 'GET') return json(res, 200, roomOut(r, me.username));
    if (!rest && method === 'PATCH') {
      if (r.kind === 'dm' || role === 'member') return err(res, 403, 'FORBIDDEN', 'no');
      r.name = String(b.name);
      durable(
        {
          type: 'room_updated',
          room: r.id,
          name: r.name,
          kind: r.kind,
          members: [...r.members.keys()].map((u) => memberOut(r, u)),
        },
        r.members.keys(),
      );
      return json(res, 200, roomOut(r, me.username));
    }
    if (!rest && method === 'DELETE') {
      if (role !== 'owner') return err(res, 403, 'FORBIDDEN', 'no');
      durable({ type: 'room_deleted', room: r.id }, r.members.keys());
      rooms.delete(r.id);
      return json(res, 204, null);
    }
    if (rest === '/members' && method === 'POST') {
      if (role === 'member' || r.kind === 'dm') return err(res, 403, 'FORBIDDEN', 'no');
      if (!users.has(b.username)) return err(res, 404, 'NOT_FOUND', 'no user');
      if (r.members.has(b.username)) return err(res, 409, 'CONFLICT', 'already');
      r.members.set(b.username, { role: b.role === 'admin' ? 'admin' : 'member', read_up_to: 0 });
      durable(
        { type: 'member_added', room: r.id, username: b.username, role: r.members.get(b.username).role },
        r.members.keys(),
      );
      return json(res, 201, memberOut(r, b.username));
    }
    let mm;
    if ((mm = /^\/members\/([^/]+)$/.exec(rest))) {
      const target = r.members.get(mm[1]);
      if (!target) return err(res, 404, 'NOT_FOUND', 'no member');
      if (method === 'PATCH') {
        if (role !== 'owner' || target.role === 'owner') return err(res, 403, 'FORBIDDEN', 'no');
        target.role = b.role;
        durable(
          {
            type: 'room_updated',
            room: r.id,
            name: r.name,
            kind: r.kind,
            members: [...r.members.keys()].map((u) => memberOut(r, u)),
          },
          r.members.keys(),
        );
        return json(res, 200, memberOut(r, mm[1]));
      }
      if (method === 'DELETE') {
        if (target.role === 'owner') return err(res, 403, 'FORBIDDEN', 'owner stays');
        if (mm[1] !== me.username && role === 'member') return err(res, 403, 'FORBIDDEN', 'no');
        const audience = [...r.members.keys()];
        r.members.delete(mm[1]);
        durable({ type: 'member_removed', room: r.id, username: mm[1] }, audience);
        return json(res, 204, null);
      }
    }
    if (rest === '/messages' && method === 'GET') {
      const before = Number(url.searchParams.get('before') ?? Infinity);
      const limit = Math.min(200, Number(url.searchParams.get('limit') ?? 50));
      const all = messages.filter((x) => x.room === r.id && x.id < before);
      return json(res, 200, { messages: all.slice(-limit), has_more: all.length > limit });
    }
    if (rest === '/read' && method === 'POST') {
      read(me.username, r, b.up_to);
      return json(res, 204, null);
    }
  }
  return err(res, 404, 'NOT_FOUND', 'no route');
});

function read(username, r, upTo) {
  const mem = r.members.get(username);
  if (upTo > mem.read_up_to) {
    mem.read_up_to = upTo;
    durable({ type: 'read', room: r.id, user: username, up_to: upTo }, r.members.keys());
  }
}

function presence(username) {
  const u = users.get(username);
  const audience = [...users.keys()].filter((x) => x !== username && shareRoom(x, username));
  emitTo(audience, {
    type: 'presence',
    user: username,
    online: (sockets.get(username)?.size ?? 0) > 0,
    last_seen: u.last_seen,
  });
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, sock, head) => {
  const u = cookieUser(req);
  if (!u) {
    sock.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
    sock.destroy();
    return;
  }
  wss.handleUpgrade(req, sock, head, (ws) => {
    ws.user = u.username;
    ws.on('message', (data) => {
      let f;
      try {
        f = JSON.parse(String(data));
      } catch {
        return ws.send(JSON.stringify({ type: 'error', code: 'INVALID_INPUT', message: 'bad json', ref: null }));
      }
      if (!ws.ready) {
        if (f.type !== 'hello') return ws.close(1008);
        ws.ready = true;
        if (!sockets.has(u.username)) sockets.set(u.username, new Set());
        const wasOnline = sockets.get(u.username).size > 0 || offlineTimers.has(u.username);
        clearTimeout(offlineTimers.get(u.username));
        offlineTimers.delete(u.username);
        sockets.get(u.username).add(ws);
        const online = [...users.keys()].filter(
          (x) => x !== u.username && shareRoom(x, u.username) && (sockets.get(x)?.size ?? 0) > 0,
        );
        ws.send(JSON.stringify({ type: 'ready', epoch, seq, user: pubUser(u), online }));
        if (f.epoch && f.epoch !== epoch) ws.send(JSON.stringify({ type: 'reset', epoch, seq }));
        else if (typeof f.since === 'number')
          ws.send(
            JSON.stringify(events.filter((x) => x.e.seq > f.since && x.audience.includes(u.username)).map((x) => x.e)),
          );
        if (!wasOnline) presence(u.username);
        return;
      }
      const r = rooms.get(f.room);
      const member = r?.members.has(u.username);
      switch (f.type) {
        case 'ping':
          return ws.send(JSON.stringify({ type: 'pong' }));
        case 'send': {
          if (!member)
            return ws.send(
              JSON.stringify({ type: 'error', code: 'NOT_FOUND', message: 'no room', ref: f.client_msg_id }),
            );
          const key = `${u.username}\0${f.client_msg_id}`;
          let msg = sent.get(key);
          if (!msg) {
            msg = {
              id: ++msgId,
              seq: 0,
              room: r.id,
              sender: u.username,
              body: String(f.body).replace(/\s+$/u, ''),
              client_msg_id: f.client_msg_id,
              created_at: now(),
            };
            sent.set(key, msg);
            messages.push(msg);
            r.members.get(u.username).read_up_to = msg.id;
            const ev = durable({ type: 'message', ...msg }, []);
            msg.seq = ev.seq;
            events[events.length - 1].e = { ...ev, seq: msg.seq };
            events[events.length - 1].audience = [...r.members.keys()];
            ws.send(
              JSON.stringify({
                type: 'ack',
                client_msg_id: f.client_msg_id,
                id: msg.id,
                seq: msg.seq,
                room: r.id,
                created_at: msg.created_at,
              }),
            );
            emitTo(r.members.keys(), { type: 'message', ...msg });
          } else {
            ws.send(
              JSON.stringify({
                type: 'ack',
                client_msg_id: f.client_msg_id,
                id: msg.id,
                seq: msg.seq,
                room: r.id,
                created_at: msg.created_at,
              }),
            );
          }
          return;
        }
        case 'typing':
          if (member)
            emitTo(
              [...r.members.keys()].filter((x) => x !== u.username),
              { type: 'typing', room: r.id, user: u.username, active: !!f.active },
            );
          return;
        case 'read':
          if (member) read(u.username, r, f.up_to);
          return;
        default:
          ws.send(
            JSON.stringify({ type: 'error', code: 'INVALID_INPUT', message: 'unknown type', ref: f.type ?? null }),
          );
      }
    });
    ws.on('close', () => {
      const set = sockets.get(u.username);
      if (!set?.delete(ws) || set.size > 0) return;
      offlineTimers.set(
        u.username,
        setTimeout(() => {
          offlineTimers.delete(u.username);
          if ((sockets.get(u.username)?.size ?? 0) > 0) return;
          u.last_seen = now();
          presence(u.username);
        }, GRACE_MS),
      );
    });
  });
});

server.listen(port, '127.0.0.1', () => console.log(`mock chatter on http://127.0.0.1:${port}`));
