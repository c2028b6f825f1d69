/**
 * The one reconnecting WebSocket client.
 *
 * State machine:
 *
 *   idle ──start──▶ connecting ──open──▶ handshaking ──ready──▶ open
 *     ▲                 │                    │                   │
 *     │                 └──────close/error───┴───────────────────┤
 *     │                                                          ▼
 *   stop()                         backoff (exp. delay with jitter) ──timer──▶ connecting
 *                                  offline (browser offline; waits for `online`, or max delay)
 *                                  unauthenticated (close 4001; terminal)
 *
 * Invariants:
 * - `hello` is the first frame on every socket; it carries `since`/`epoch`
 *   once a cursor exists, so a reconnect resumes without gaps.
 * - The cursor (`seq`) only moves forward; a durable event with
 *   `seq <= cursor` is a duplicate and is dropped here.
 * - `reset` replaces epoch and cursor with the server's and is handed on so
 *   the app drops caches and reloads over REST.
 * - Ping every PING_INTERVAL_MS while open; silence for PONG_TIMEOUT_MS
 *   after a ping is a dead connection: close and reconnect.
 */
import { parseServerFrame } from '../wire/schema';
import { isDurable } from '../wire/types';
import type { ClientFrame, ReadyEvent, ResetEvent, ServerEvent } from '../wire/types';

export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketState =
  'idle' | 'connecting' | 'handshaking' | 'open' | 'backoff' | 'offline' | 'unauthenticated' | 'stopped';

export interface SocketStatus {
  state: SocketState;
  /** Consecutive failed attempts since the last `ready`. */
  attempt: number;
  /** When the next attempt is due (ms since epoch, from Date.now()), in `backoff`. */
  retryAt: number | null;
  lastClose: number | null;
}

export interface SocketHandlers {
  onEvent?: (ev: ServerEvent) => void;
  /** `resumed` is true when hello carried a cursor the server accepted. */
  onReady?: (ev: ReadyEvent, resumed: boolean) => void;
  onReset?: (ev: ResetEvent) => void;
  onStatus?: (s: SocketStatus) => void;
  onProtocolError?: (msg: string) => void;
}

export interface SocketOptions {
  url: string;
  createSocket?: (url: string) => WebSocketLike;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Initial cursor (e.g. restored); usually absent. */
  cursor?: { epoch: string; seq: number } | null;
}

const OPEN = 1;

export const PING_INTERVAL_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;

/** Exponential backoff with "equal jitter": half fixed, half random. */
export function backoffDelay(attempt: number, random: () => number, base = 500, max = 30_000): number {
  const exp = Math.min(max, base * 2 ** Math.min(attempt, 16));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export class SocketClient {
  private ws: WebSocketLike | null = null;
  private status: SocketStatus = { state: 'idle', attempt: 0, retryAt: null, lastClose: null };
  private epoch: string | null = null;
  private seq: number | null = null;
  private sentCursor = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly o: Required<Omit<SocketOptions, 'cursor'>>;

  constructor(
    opts: SocketOptions,
    private h: SocketHandlers = {},
  ) {
    this.o = {
      url: opts.url,
      createSocket: opts.createSocket ?? ((u) => new WebSocket(u) as unknown as WebSocketLike),
      random: opts.random ?? Math.random,
      baseDelayMs: opts.baseDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 30_000,
      pingIntervalMs: opts.pingIntervalMs ?? PING_INTERVAL_MS,
      pongTimeoutMs: opts.pongTimeoutMs ?? PONG_TIMEOUT_MS,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 15_000,
    };
    if (opts.cursor) {
      this.epoch = opts.cursor.epoch;
      this.seq = opts.cursor.seq;
    }
  }

  get state(): SocketState {
    return this.status.state;
  }
  get cursor(): { epoch: string | null; seq: number | null } {
    return { epoch: this.epoch, seq: this.seq };
  }
  get isOpen(): boolean {
    return this.status.state === 'open';
  }
  getStatus(): SocketStatus {
    return this.status;
  }

  start(): void {
    if (this.status.state === 'idle' || this.status.state === 'stopped') this.connect();
  }

  /** Stop for good (logout). */
  stop(): void {
    this.clearTimers();
    this.dropSocket(1000, 'bye');
    this.setStatus({ state: 'stopped', retryAt: null });
  }

  /** Browser reports network loss / return. */
  setNetwork(online: boolean): void {
    const st = this.status.state;
    if (st === 'stopped' || st === 'unauthenticated' || st === 'idle') return;
    if (!online) {
      this.clearTimers();
      this.dropSocket(4000, 'offline');
      this.goOffline();
    } else if (st === 'offline' || st === 'backoff') {
      this.clearTimers();
      this.setStatus({ attempt: 0 });
      this.connect();
    }
  }

  /** After `unauthenticated`, once the app has re-checked its credentials: connect again, keeping the cursor. */
  resume(): void {
    if (this.status.state !== 'unauthenticated') return;
    this.setStatus({ attempt: 0 });
    this.connect();
  }

  /** Retry now (e.g. the user pressed "Reconnect"). */
  reconnectNow(): void {
    const st = this.status.state;
    if (st === 'backoff' || st === 'offline') {
      this.clearTimers();
      this.connect();
    }
  }

  /** Send a frame if the socket is ready; false otherwise (caller keeps it). */
  send(frame: ClientFrame): boolean {
    if (this.status.state !== 'open' || !this.ws || this.ws.readyState !== OPEN) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  // ---- internals -------------------------------------------------------

  private setStatus(p: Partial<SocketStatus>): void {
    this.status = { ...this.status, ...p };
    this.h.onStatus?.(this.status);
  }

  private connect(): void {
    this.clearTimers();
    this.dropSocket(1000, 'reconnect');
    this.setStatus({ state: 'connecting', retryAt: null });
    let ws: WebSocketLike;
    try {
      ws = this.o.createSocket(this.o.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const hello: ClientFrame = { type: 'hello' };
      this.sentCursor = this.seq !== null && this.epoch !== null;
      if (this.sentCursor) {
        hello.since = this.seq!;
        hello.epoch = this.epoch!;
      }
      this.setStatus({ state: 'handshaking' });
      ws.send(JSON.stringify(hello));
      this.handshakeTimer = setTimeout(() => {
        if (this.ws === ws && this.status.state === 'handshaking') this.lost(ws, 4000);
      }, this.o.handshakeTimeoutMs);
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      if (typeof ev.data !== 'string') {
        this.h.onProtocolError?.('binary frame');
        return;
      }
      this.onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.lost(ws, ev.code);
    };
    ws.onerror = () => {
      // A close event always follows; nothing to do here.
    };
  }

  private onFrame(text: string): void {
    // Any frame proves the connection is alive.
    if (this.pongTimer !== null) {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    const { events, errors } = parseServerFrame(text);
    for (const e of errors) this.h.onProtocolError?.(e);
    for (const ev of events) {
      // A handler may have stopped us mid-frame (e.g. logout).
      if (this.status.state === 'stopped' || this.status.state === 'unauthenticated') return;
      this.dispatch(ev);
    }
  }

  private dispatch(ev: ServerEvent): void {
    if (ev.type === 'ready') {
      if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
      const resumed = this.sentCursor && this.epoch === ev.epoch;
      if (!resumed) {
        this.epoch = ev.epoch;
        this.seq = ev.seq;
      }
      this.setStatus({ state: 'open', attempt: 0, retryAt: null });
      this.startPing();
      this.h.onReady?.(ev, resumed);
      return;
    }
    if (ev.type === 'reset') {
      this.epoch = ev.epoch;
      this.seq = ev.seq;
      this.h.onReset?.(ev);
      return;
    }
    if (isDurable(ev)) {
      if (this.seq !== null && ev.seq <= this.seq) return; // duplicate or replay
      this.seq = ev.seq;
    }
    if (ev.type === 'pong') return;
    this.h.onEvent?.(ev);
  }

  private startPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || this.status.state !== 'open') return;
      if (!this.send({ type: 'ping' })) return;
      if (this.pongTimer === null) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = null;
          if (this.ws === ws) this.lost(ws, 4000);
        }, this.o.pongTimeoutMs);
      }
    }, this.o.pingIntervalMs);
  }

  private lost(ws: WebSocketLike, code: number): void {
    if (this.ws !== ws) return;
    this.clearTimers();
    this.dropSocket(4000, 'lost');
    this.setStatus({ lastClose: code });
    if (code === 4001) {
      this.setStatus({ state: 'unauthenticated', retryAt: null });
      return;
    }
    if (typeof navigator !== 'undefined' && navigator.onLine === false) {
      this.goOffline();
      return;
    }
    this.scheduleRetry();
  }

  /**
   * Wait for the browser's `online` event, but also try once per max delay:
   * that event is not reliable everywhere.
   */
  private goOffline(): void {
    this.setStatus({ state: 'offline', retryAt: Date.now() + this.o.maxDelayMs });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, this.o.maxDelayMs);
  }

  private scheduleRetry(): void {
    const attempt = this.status.attempt;
    const delay = backoffDelay(attempt, this.o.random, this.o.baseDelayMs, this.o.maxDelayMs);
    this.setStatus({ state: 'backoff', attempt: attempt + 1, retryAt: Date.now() + delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private dropSocket(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      /* already closed */
    }
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    if (this.pongTimer !== null) clearTimeout(this.pongTimer);
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.retryTimer = this.pingTimer = this.pongTimer = this.handshakeTimer = null;
  }
}
