/**
 * The chat controller as the views see it: the stores, and one method per
 * thing a view can ask for. It holds no logic of its own; it builds the
 * parts below, passes each its dependencies, and delegates.
 *
 *   session.ts   sign-in, sign-out, 401 / close 4001, profile
 *   link.ts      the socket of the current sign-in (the only way to send a frame)
 *   sync.ts      ready / reset, REST snapshot with buffered events, REST fallback
 *   events.ts    one handler per server event type
 *   sending.ts   optimistic sends, the outbox, resends, retries, acks
 *   loader.ts    rooms and pages over REST; forgetting a room we left
 *   commands.ts  room and member commands
 *   reads.ts     our read cursor      typing.ts  our typing notifications
 *   lifetime.ts  sign-in tokens (stale answers are dropped) and tracked work
 *
 * Views call these methods and read the stores; they never talk to the
 * network themselves.
 */
import { api as realApi, type Api } from '../api/http';
import type { WebSocketLike } from '../net/socket';
import { openOutbox, type Outbox } from '../net/outbox';
import { MessagesStore } from '../store/messages';
import { PresenceStore } from '../store/presence';
import { RoomsStore } from '../store/rooms';
import { SessionStore } from '../store/session';
import { Store } from '../store/store';
import { TypingStore } from '../store/typing';
import { UiStore } from '../store/ui';
import type { Room, RoomId, ServerEvent, User, Username } from '../wire/types';
import { Commands } from './commands';
import { applyEvent, eventHandlers, type EventContext } from './events';
import { Lifetime, Work } from './lifetime';
import { defaultWsUrl, IDLE_CONNECTION, Link, type ConnectionState } from './link';
import { Loader } from './loader';
import { Reads } from './reads';
import { Sending } from './sending';
import { Session } from './session';
import { Sync } from './sync';
import { Typing } from './typing';

export type { Api } from '../api/http';
export type { UiState } from '../store/ui';

export interface ChatDeps {
  api?: Api;
  createSocket?: (url: string) => WebSocketLike;
  openOutbox?: () => Promise<Outbox>;
  wsUrl?: () => string;
  random?: () => number;
  /** Fallback REST load if the socket is not ready within this time. */
  restFallbackMs?: number;
  addWindowListeners?: boolean;
}

export class Chat {
  readonly session = new SessionStore();
  readonly rooms = new RoomsStore();
  readonly messages = new MessagesStore();
  readonly typing = new TypingStore();
  readonly presence = new PresenceStore();
  readonly connection = new Store<ConnectionState>(IDLE_CONNECTION);
  readonly ui = new UiStore();
  readonly api: Api;

  private readonly lifetime = new Lifetime();
  private readonly work = new Work();
  private readonly link: Link;
  private readonly auth: Session;
  private readonly sync: Sync;
  private readonly loader: Loader;
  private readonly commands: Commands;
  private readonly sending: Sending;
  private readonly reads: Reads;
  private readonly typingOut: Typing;
  private readonly events: EventContext;

  constructor(deps: ChatDeps = {}) {
    const api = (this.api = deps.api ?? realApi);
    const me = () => this.me?.username ?? null;
    const { session, rooms, messages, typing, presence, ui, lifetime, work } = this;

    this.link = new Link(
      {
        connection: this.connection,
        url: deps.wsUrl ?? defaultWsUrl,
        createSocket: deps.createSocket,
        random: deps.random,
        addWindowListeners: deps.addWindowListeners,
      },
      {
        onReady: (ev, resumed) => work.track(this.sync.onReady(ev, resumed)),
        onReset: () => work.track(this.sync.onReset()),
        onEvent: (ev) => this.sync.onEvent(ev),
        onUnauthenticated: () => work.track(this.auth.onUnauthorisedClose()),
        onBackoff: (attempt) => work.track(this.auth.onBackoff(attempt)),
      },
    );
    this.auth = new Session({
      api,
      session,
      rooms,
      lifetime,
      live: { start: (u) => this.startLive(u), stop: () => this.teardown(), resume: () => this.link.resume() },
    });
    this.loader = new Loader({ api, rooms, messages, ui });
    this.commands = new Commands({ api, rooms, loader: this.loader, me });
    this.typingOut = new Typing(this.link);
    this.reads = new Reads({ api, link: this.link, rooms, messages, me });
    this.sending = new Sending({
      link: this.link,
      messages,
      openOutbox: deps.openOutbox ?? openOutbox,
      me,
      stopTyping: (room) => this.typingOut.setTyping(room, false),
    });
    this.events = {
      me: () => me() ?? '',
      rooms,
      messages,
      typing,
      presence,
      ui,
      loader: this.loader,
      sending: this.sending,
      reads: this.reads,
      sessionExpired: () => this.auth.expired(),
    };
    this.sync = new Sync({
      api,
      session,
      rooms,
      messages,
      typing,
      presence,
      ui,
      lifetime,
      loader: this.loader,
      apply: (ev) => this.apply(ev),
      connected: () => this.auth.connected(),
      markSynced: () => this.link.markSynced(),
      cursorLost: () => this.reads.reset(),
      flushOutbox: () => this.sending.flushOutbox(),
      sessionExpired: () => this.auth.expired(),
      fallbackMs: deps.restFallbackMs,
    });
  }

  get me(): User | null {
    return this.session.get().me;
  }

  // ---- the live part of a sign-in ----------------------------------------

  private async startLive(me: User): Promise<void> {
    this.teardown();
    const alive = this.lifetime.begin();
    this.session.signedIn(me);
    if (!(await this.sending.open(me.username, alive))) return;
    this.link.start();
    // If the socket cannot get through, still show rooms over REST.
    this.sync.start();
  }

  private teardown(): void {
    this.lifetime.end();
    this.link.stop();
    this.sending.close();
    this.sync.reset();
    this.reads.reset();
    this.typingOut.reset();
    this.rooms.clear();
    this.messages.clearAll();
    this.typing.clear();
    this.presence.clear();
    this.connection.set({ ...IDLE_CONNECTION });
    this.ui.clear();
  }

  /** Resolves when the sync work started by socket events has finished (tests, diagnostics). */
  idle(): Promise<void> {
    return this.work.idle();
  }

  // ---- session -------------------------------------------------------------

  boot(): Promise<void> {
    return this.auth.boot();
  }
  login(username: string, password: string): Promise<void> {
    return this.auth.login(username, password);
  }
  signup(username: string, name: string, password: string): Promise<void> {
    return this.auth.signup(username, name, password);
  }
  logout(): Promise<void> {
    return this.auth.logout();
  }
  /** 401 from REST or close 4001 from the socket. */
  sessionExpired(): void {
    this.auth.expired();
  }
  updateName(name: string): Promise<void> {
    return this.auth.updateName(name);
  }
  changePassword(current: string, next: string): Promise<void> {
    return this.auth.changePassword(current, next);
  }

  // ---- sync ----------------------------------------------------------------

  reconnectNow(): void {
    this.link.reconnectNow();
  }
  /** Reload rooms and the open room over REST; durable events wait meanwhile. */
  resync(): Promise<void> {
    return this.sync.resync();
  }
  /** Apply one event to the stores. Every handler is idempotent. */
  apply(ev: ServerEvent): void {
    applyEvent(eventHandlers, ev, this.events);
  }

  // ---- rooms ---------------------------------------------------------------

  setActiveRoom(id: RoomId | null): void {
    this.ui.setActiveRoom(id);
  }
  fetchRoom(id: RoomId): Promise<Room | null> {
    return this.loader.fetchRoom(id);
  }
  createRoom(name: string, members: Username[]): Promise<Room> {
    return this.commands.createRoom(name, members);
  }
  openDm(username: Username): Promise<Room> {
    return this.commands.openDm(username);
  }
  renameRoom(id: RoomId, name: string): Promise<void> {
    return this.commands.renameRoom(id, name);
  }
  deleteRoom(id: RoomId): Promise<void> {
    return this.commands.deleteRoom(id);
  }
  addMember(id: RoomId, username: Username, role: 'member' | 'admin' = 'member'): Promise<void> {
    return this.commands.addMember(id, username, role);
  }
  setRole(id: RoomId, username: Username, role: 'member' | 'admin' | 'owner'): Promise<void> {
    return this.commands.setRole(id, username, role);
  }
  removeMember(id: RoomId, username: Username): Promise<void> {
    return this.commands.removeMember(id, username);
  }
  leaveRoom(id: RoomId): Promise<void> {
    return this.commands.leaveRoom(id);
  }

  // ---- messages ------------------------------------------------------------

  loadLatest(room: RoomId): Promise<void> {
    return this.loader.loadLatest(room);
  }
  loadOlder(room: RoomId): Promise<void> {
    return this.loader.loadOlder(room);
  }
  /** Optimistic send: shown at once as pending, persisted, sent when possible. */
  send(room: RoomId, text: string): Promise<string | null> {
    return this.sending.send(room, text);
  }
  retry(clientMsgId: string): Promise<void> {
    return this.sending.retry(clientMsgId);
  }
  discard(clientMsgId: string): Promise<void> {
    return this.sending.discard(clientMsgId);
  }
  /** Mark messages up to `upTo` as read (call only when they are visible in a focused tab). */
  markRead(room: RoomId, upTo: number): void {
    this.reads.markRead(room, upTo);
  }
  /** Throttled typing notifications: at most one `active:true` per 3 s. */
  setTyping(room: RoomId, active: boolean, now = Date.now()): void {
    this.typingOut.setTyping(room, active, now);
  }

  // ---- notices -------------------------------------------------------------

  notify(text: string, kind: 'info' | 'error' = 'info'): void {
    this.ui.notify(text, kind);
  }
  dismissNotice(): void {
    this.ui.dismissNotice();
  }
}
