/**
 * The controller's one seam under the socket: owns the SocketClient of the
 * current sign-in (and the browser's online/offline listeners that drive
 * it), mirrors its status into the `connection` store, and is the only way
 * the rest of the controller sends a frame.
 *
 * Invariants:
 * - At most one SocketClient exists; `start` replaces, `stop` drops it.
 * - `send` never throws and never queues: it returns false when the socket
 *   is not ready, and the caller keeps what it wanted to send (the outbox,
 *   the REST fallback for reads, or nothing for typing).
 * - `synced` is true only while the socket is open and the REST snapshot
 *   has been taken since it opened (Sync sets it; any other state clears it).
 */
import { SocketClient, type SocketStatus, type WebSocketLike } from '../net/socket';
import type { Store } from '../store/store';
import type { ClientFrame, ReadyEvent, ResetEvent, ServerEvent } from '../wire/types';

export type ConnectionState = SocketStatus & { synced: boolean };

export const IDLE_CONNECTION: ConnectionState = {
  state: 'idle',
  attempt: 0,
  retryAt: null,
  lastClose: null,
  synced: false,
};

/** What the rest of the controller may do with the socket. */
export interface Sender {
  send(frame: ClientFrame): boolean;
}

export interface LinkHooks {
  onReady(ev: ReadyEvent, resumed: boolean): void;
  onReset(ev: ResetEvent): void;
  onEvent(ev: ServerEvent): void;
  /** Closed with 4001: the socket waits for `resume()` or `stop()`. */
  onUnauthenticated(): void;
  /** A failed attempt; `attempt` counts them since the last `ready`. */
  onBackoff(attempt: number): void;
}

export interface LinkOptions {
  connection: Store<ConnectionState>;
  url: () => string;
  createSocket?: (url: string) => WebSocketLike;
  random?: () => number;
  /** Follow the browser's online/offline events (off in tests). */
  addWindowListeners?: boolean;
}

export function defaultWsUrl(): string {
  const l = window.location;
  return `${l.protocol === 'https:' ? 'wss:' : 'ws:'}//${l.host}/ws`;
}

export class Link implements Sender {
  private socket: SocketClient | null = null;
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly o: LinkOptions,
    private readonly hooks: LinkHooks,
  ) {}

  start(): void {
    this.stop();
    const h = this.hooks;
    this.socket = new SocketClient(
      { url: this.o.url(), createSocket: this.o.createSocket, random: this.o.random },
      {
        onStatus: (s) => {
          this.o.connection.set((c) => ({ ...s, synced: s.state === 'open' ? c.synced : false }));
          if (s.state === 'unauthenticated') h.onUnauthenticated();
          if (s.state === 'backoff') h.onBackoff(s.attempt);
        },
        onReady: (ev, resumed) => h.onReady(ev, resumed),
        onReset: (ev) => h.onReset(ev),
        onEvent: (ev) => h.onEvent(ev),
        onProtocolError: (m) => console.warn('chatter: bad frame from server:', m),
      },
    );
    this.socket.start();
    if (this.o.addWindowListeners !== false && typeof window !== 'undefined') {
      const on = () => this.socket?.setNetwork(true);
      const off = () => this.socket?.setNetwork(false);
      window.addEventListener('online', on);
      window.addEventListener('offline', off);
      this.unlisten = () => {
        window.removeEventListener('online', on);
        window.removeEventListener('offline', off);
      };
    }
  }

  stop(): void {
    this.socket?.stop();
    this.socket = null;
    this.unlisten?.();
    this.unlisten = null;
  }

  send(frame: ClientFrame): boolean {
    return this.socket?.send(frame) ?? false;
  }

  /** After a 4001, once the credentials were re-checked: reconnect from the cursor. */
  resume(): void {
    this.socket?.resume();
  }

  reconnectNow(): void {
    this.socket?.reconnectNow();
  }

  /** The socket has reached a REST snapshot since it opened. */
  markSynced(): void {
    this.o.connection.set((c) => ({ ...c, synced: true }));
  }
}
