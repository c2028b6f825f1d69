/** Test doubles: a scriptable WebSocket and a recording factory, wire values, a recording Sender and outbox. */
import type { Sender } from '../../src/app/link';
import { memoryOutbox, type Outbox, type OutboxEntry } from '../../src/net/outbox';
import type { WebSocketLike } from '../../src/net/socket';
import type { ClientFrame, Room } from '../../src/wire/types';

export class FakeWebSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: unknown[] = [];
  closedWith: number | null = null;
  constructor(public url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  // --- driven by the test ---
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  sentOfType(type: string): Record<string, unknown>[] {
    return this.sent.filter((f) => (f as { type: string }).type === type) as Record<string, unknown>[];
  }
}

export function socketFactory() {
  const sockets: FakeWebSocket[] = [];
  return {
    sockets,
    create: (url: string) => {
      const s = new FakeWebSocket(url);
      sockets.push(s);
      return s;
    },
    get last(): FakeWebSocket {
      const s = sockets[sockets.length - 1];
      if (!s) throw new Error('no socket created');
      return s;
    },
  };
}

export const user = (username: string, name = username.toUpperCase()) => ({
  username,
  name,
  online: true,
  last_seen: null,
});

export const ready = (seq: number, epoch = 'E1', me = 'ana', online: string[] = []) => ({
  type: 'ready',
  epoch,
  seq,
  user: user(me),
  online,
});

/** A message as the server sends it (every message has the client_msg_id it was sent with). */
export const msg = (
  id: number,
  seq: number,
  room: string,
  sender: string,
  body: string,
  client_msg_id = `cm-${id}`,
) => ({
  id,
  seq,
  room,
  sender,
  body,
  client_msg_id,
  created_at: new Date(Date.UTC(2026, 10, 25, 10, 0, id)).toISOString(),
  edited_at: null,
  deleted: false,
  reply_to: null,
  mentions: [] as string[],
  reactions: [] as { emoji: string; users: string[] }[],
  attachments: [],
});

/** A room with ana (owner) and bo (member), nothing read. */
export function room(id: string, over: Partial<Room> = {}): Room {
  return {
    id,
    kind: 'group',
    name: `Room ${id}`,
    unread: 0,
    mentions: 0,
    created_at: '2026-11-20T00:00:00.000Z',
    last_message: null,
    members: [
      { username: 'ana', name: 'Ana', role: 'owner', read_up_to: 0 },
      { username: 'bo', name: 'Bo', role: 'member', read_up_to: 0 },
    ],
    ...over,
  };
}

export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A Sender that records frames; `open` decides whether a send gets through. */
export class FakeSender implements Sender {
  open = true;
  frames: ClientFrame[] = [];
  send(frame: ClientFrame): boolean {
    if (!this.open) return false;
    this.frames.push(frame);
    return true;
  }
  ofType<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.frames.filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }
}

/** An outbox in memory that also counts what it was asked to do. */
export function recordingOutbox(): Outbox & { closed: boolean } {
  const inner = memoryOutbox();
  const o = {
    closed: false,
    put: (e: OutboxEntry) => inner.put(e),
    delete: (id: string) => inner.delete(id),
    list: (u: string) => inner.list(u),
    close: () => {
      o.closed = true;
    },
  };
  return o;
}
