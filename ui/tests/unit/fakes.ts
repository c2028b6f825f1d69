/** Test doubles: a scriptable WebSocket and a recording factory. */
import type { WebSocketLike } from '../../src/net/socket';

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

export const msg = (
  id: number,
  seq: number,
  room: string,
  sender: string,
  body: string,
  client_msg_id: string | null = null,
) => ({
  id,
  seq,
  room,
  sender,
  body,
  client_msg_id,
  created_at: new Date(Date.UTC(2026, 10, 25, 10, 0, id)).toISOString(),
});
