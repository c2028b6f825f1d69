// Reference peer: socket.io ("idiomatic Node chat"), default ws transport, no deflate.
// Frames are socket.io events named "msg" carrying the same JSON objects as Chatter's /ws,
// i.e. on the wire: 42["msg",{...}]. Path /socket.io/, websocket transport only.
// Usage: node sio_peer.js PORT. Rooms as in ws_peer.js ("rooms" in hello, default "r").
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 9002);
const server = http.createServer((req, res) => { res.writeHead(200); res.end('{"status":"ok"}'); });
const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, httpCompression: false, maxHttpBufferSize: 64 * 1024, serveClient: false, cors: { origin: false } });
let seq = 0;
let anon = 0;

io.on('connection', (socket) => {
  let user = null;
  socket.on('msg', (m) => {
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'hello': {
        user = typeof m.user === 'string' ? m.user : 'peer' + (++anon);
        const rooms = Array.isArray(m.rooms) && m.rooms.length ? m.rooms.map(String) : ['r'];
        socket.join(rooms);
        socket.emit('msg', { type: 'ready', epoch: 'peer', seq, user: { username: user, name: user, online: true, last_seen: null }, online: [] });
        break;
      }
      case 'send': {
        if (user === null) { socket.disconnect(true); return; }
        const room = String(m.room ?? 'r');
        const id = ++seq;
        const created_at = new Date().toISOString();
        socket.emit('msg', { type: 'ack', client_msg_id: m.client_msg_id, id, seq: id, room, created_at });
        io.to(room).emit('msg', { type: 'message', id, seq: id, room, sender: user, body: m.body, client_msg_id: m.client_msg_id, created_at });
        break;
      }
      case 'ping': socket.emit('msg', { type: 'pong' }); break;
      default: socket.emit('msg', { type: 'error', code: 'INVALID_INPUT', message: 'unknown type', ref: m.type ?? null });
    }
  });
});

server.listen(port, '127.0.0.1', 4096, () => { console.log(`socket.io peer listening on 127.0.0.1:${port}`); });
const stop = () => { io.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, Number(process.env.BENCH_PEER_MAX_S || 3600) * 1000).unref();
