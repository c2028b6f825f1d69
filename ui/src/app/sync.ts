/**
 * Keeping the stores in step with the server across connects, resumes and
 * resets.
 *
 * Policy:
 * - A fresh `ready` (no cursor accepted), a `ready` before any snapshot, or a
 *   `reset` means our caches may be stale: reload rooms (and the open room's
 *   newest page) over REST. Durable events that arrive meanwhile are buffered
 *   and applied, in order, once the last reload in flight has finished; every
 *   handler is idempotent, so an event also in the snapshot does no harm.
 * - A resumed `ready` needs nothing: the server replays every missed event.
 * - After every `ready` and `reset`, the outbox is flushed (resent).
 * - If no snapshot has been taken `fallbackMs` after start (the socket cannot
 *   get through), load rooms over REST anyway so the user sees them.
 */
import { ApiError, describeError, type Api } from '../api/http';
import type { Alive, Lifetime } from './lifetime';
import type { Loader } from './loader';
import type { PresenceStore } from '../store/presence';
import type { MessagesStore } from '../store/messages';
import type { RoomsStore } from '../store/rooms';
import type { SessionStore } from '../store/session';
import type { TypingStore } from '../store/typing';
import type { UiStore } from '../store/ui';
import { isDurable, type ReadyEvent, type ServerEvent } from '../wire/types';

export const REST_FALLBACK_MS = 3000;

export interface SyncDeps {
  api: Pick<Api, 'rooms'>;
  session: SessionStore;
  rooms: RoomsStore;
  messages: MessagesStore;
  typing: TypingStore;
  presence: PresenceStore;
  ui: UiStore;
  lifetime: Lifetime;
  loader: Pick<Loader, 'loadLatest'>;
  /** Apply one event to the stores (the event table). */
  apply: (ev: ServerEvent) => void;
  /** The server accepted us (a `ready`). */
  connected: () => void;
  /** The snapshot for the open socket is in. */
  markSynced: () => void;
  /** The server dropped our cursor: anything keyed to it (our read marks) is void. */
  cursorLost: () => void;
  flushOutbox: () => Promise<void>;
  sessionExpired: () => void;
  fallbackMs?: number;
}

export class Sync {
  /** Reloads in flight; durable events are buffered while it is above 0. */
  private depth = 0;
  private hasSnapshot = false;
  private buffered: ServerEvent[] = [];
  private fallbackTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly d: SyncDeps) {}

  /** Arm the REST fallback for a sign-in that has just started its socket. */
  start(): void {
    this.fallbackTimer = setTimeout(() => {
      if (!this.hasSnapshot && this.depth === 0) void this.resync();
    }, this.d.fallbackMs ?? REST_FALLBACK_MS);
  }

  /** Signed out: forget the snapshot, the buffer and the fallback. */
  reset(): void {
    if (this.fallbackTimer !== null) clearTimeout(this.fallbackTimer);
    this.fallbackTimer = null;
    this.buffered = [];
    this.depth = 0;
    this.hasSnapshot = false;
  }

  async onReady(ev: ReadyEvent, resumed: boolean): Promise<void> {
    this.d.session.updateMe(ev.user);
    this.d.presence.setOnlineList(ev.online);
    this.d.connected();
    if (!resumed || !this.hasSnapshot) await this.resync();
    this.d.markSynced();
    await this.d.flushOutbox();
  }

  async onReset(): Promise<void> {
    this.d.typing.clear();
    this.d.cursorLost();
    this.d.messages.clearTimelines();
    await this.resync();
    await this.d.flushOutbox();
  }

  /** A live event from the socket: held back while a reload runs if it is durable, else applied. */
  onEvent(ev: ServerEvent): void {
    if (this.depth > 0 && isDurable(ev)) {
      this.buffered.push(ev);
      return;
    }
    this.d.apply(ev);
  }

  /** Reload rooms and the open room over REST; durable events wait meanwhile. */
  async resync(): Promise<void> {
    const alive: Alive = this.d.lifetime.token();
    this.depth++;
    try {
      const rooms = await this.d.api.rooms();
      if (!alive()) return;
      this.d.rooms.replaceAll(rooms);
      for (const r of rooms)
        for (const m of r.members)
          if (!this.d.presence.get()[m.username]) this.d.presence.update(m.username, false, null);
      const active = this.d.ui.get().activeRoom;
      this.d.messages.clearTimelines();
      this.hasSnapshot = true;
      if (active && !rooms.some((r) => r.id === active)) {
        this.d.ui.setActiveRoom(null);
      } else if (active) {
        await this.d.loader.loadLatest(active);
      }
    } catch (e) {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') this.d.sessionExpired();
      else this.d.ui.notify(describeError(e), 'error');
    } finally {
      if (alive() && --this.depth === 0) {
        const queued = this.buffered;
        this.buffered = [];
        for (const ev of queued) this.d.apply(ev);
      }
    }
  }
}
