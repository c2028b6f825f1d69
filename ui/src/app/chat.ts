/**
 * The chat controller: owns the socket client, the outbox and the stores,
 * and turns server events into store updates. Views call its methods and
 * read the stores; they never talk to the network themselves.
 *
 * Sync policy:
 * - A fresh `ready` (no cursor accepted) or a `reset` means our caches may
 *   be stale: reload rooms (and the open room's newest page) over REST,
 *   buffering durable events that arrive meanwhile and applying them after,
 *   where every handler is idempotent (dedupe by id, cursors move forward).
 * - A resumed `ready` needs nothing: the server replays every missed event.
 * - After every `ready`, everything in the outbox is (re)sent with its
 *   original client_msg_id; the outbox entry is deleted on `ack`.
 */
import { api as realApi, ApiError, describeError } from '../api/http';
import { SocketClient, type SocketStatus, type WebSocketLike } from '../net/socket';
import { newClientMsgId, openOutbox, type Outbox, type OutboxEntry } from '../net/outbox';
import { MessagesStore, type PendingMessage } from '../store/messages';
import { RoomsStore } from '../store/rooms';
import { TypingStore } from '../store/typing';
import { PresenceStore } from '../store/presence';
import { SessionStore } from '../store/session';
import { Store } from '../store/store';
import { isDurable, MAX_BODY_CHARS } from '../wire/types';
import type { Message, ReadyEvent, ResetEvent, Room, RoomId, ServerEvent, User, Username } from '../wire/types';

export type Api = typeof realApi;

export interface UiState {
  activeRoom: RoomId | null;
  notice: { id: number; text: string; kind: 'info' | 'error' } | null;
  /** Text for the polite ARIA live region. */
  announcement: string;
}

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

const TYPING_THROTTLE_MS = 3000;

function defaultWsUrl(): string {
  const l = window.location;
  return `${l.protocol === 'https:' ? 'wss:' : 'ws:'}//${l.host}/ws`;
}

export class Chat {
  readonly session = new SessionStore();
  readonly rooms = new RoomsStore();
  readonly messages = new MessagesStore();
  readonly typing = new TypingStore();
  readonly presence = new PresenceStore();
  readonly connection = new Store<SocketStatus & { synced: boolean }>({
    state: 'idle',
    attempt: 0,
    retryAt: null,
    lastClose: null,
    synced: false,
  });
  readonly ui = new Store<UiState>({ activeRoom: null, notice: null, announcement: '' });

  readonly api: Api;
  private socket: SocketClient | null = null;
  private outbox: Outbox | null = null;
  private syncDepth = 0;
  private hasSnapshot = false;
  private buffered: ServerEvent[] = [];
  private lastReadSent = new Map<RoomId, number>();
  private typingSentAt = new Map<RoomId, number>();
  private noticeSeq = 0;
  private fallbackTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimers = new Set<ReturnType<typeof setTimeout>>();
  private unlisten: (() => void) | null = null;
  private generation = 0;
  private work = new Set<Promise<unknown>>();
  /** 4001 closes survived by a still-valid cookie since the last `ready` (bounded, so no loop). */
  private unauthorisedCloses = 0;

  constructor(private deps: ChatDeps = {}) {
    this.api = deps.api ?? realApi;
  }

  get me(): User | null {
    return this.session.get().me;
  }

  // ---- session -----------------------------------------------------------

  async boot(): Promise<void> {
    try {
      const me = await this.api.me();
      await this.startLive(me);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') this.session.signedOut();
      else this.session.signedOut(describeError(e));
    }
  }

  async login(username: string, password: string): Promise<void> {
    const r = await this.api.login(username.trim().toLowerCase(), password);
    await this.startLive(r.user);
  }

  async signup(username: string, name: string, password: string): Promise<void> {
    const u = username.trim().toLowerCase();
    await this.api.signup(u, name.trim(), password);
    await this.login(u, password);
  }

  async logout(): Promise<void> {
    try {
      await this.api.logout();
    } finally {
      this.teardown();
      this.session.signedOut();
    }
  }

  /** 401 from REST or close 4001 from the socket. */
  sessionExpired(): void {
    if (this.session.get().status !== 'authenticated') return;
    this.teardown();
    this.session.signedOut('Your session has ended. Please log in again.');
  }

  /**
   * The socket was closed with 4001. That is a logout unless our cookie
   * still works (e.g. it was just refreshed by a password change); then the
   * socket resumes from its cursor.
   */
  private async recheckSession(): Promise<void> {
    const gen = this.generation;
    try {
      const me = await this.api.me();
      if (gen !== this.generation) return;
      this.session.updateMe(me);
      if (this.unauthorisedCloses++ < 3) {
        this.socket?.resume();
        return;
      }
    } catch {
      /* fall through */
    }
    if (gen === this.generation) this.sessionExpired();
  }

  private async checkStillSignedIn(): Promise<void> {
    const gen = this.generation;
    try {
      this.session.updateMe(await this.api.me());
    } catch (e) {
      if (gen === this.generation && e instanceof ApiError && e.code === 'UNAUTHENTICATED') this.sessionExpired();
    }
  }

  async updateName(name: string): Promise<void> {
    const me = await this.api.updateMe(name.trim());
    this.session.updateMe(me);
    // Our own member entries carry the name too.
    for (const r of Object.values(this.rooms.get().byId)) {
      const m = r.members.find((x) => x.username === me.username);
      if (m) this.rooms.upsertMember(r.id, { ...m, name: me.name });
    }
  }

  async changePassword(current: string, next: string): Promise<void> {
    await this.api.changePassword(current, next);
  }

  private async startLive(me: User): Promise<void> {
    this.teardown();
    const gen = ++this.generation;
    this.session.signedIn(me);
    this.outbox = await (this.deps.openOutbox ?? openOutbox)();
    if (gen !== this.generation) return;
    for (const e of await this.outbox.list(me.username)) this.messages.addPending(this.pendingOf(e));
    this.socket = new SocketClient(
      { url: (this.deps.wsUrl ?? defaultWsUrl)(), createSocket: this.deps.createSocket, random: this.deps.random },
      {
        onStatus: (s) => {
          this.connection.set((c) => ({ ...s, synced: s.state === 'open' ? c.synced : false }));
          if (s.state === 'unauthenticated') this.track(this.recheckSession());
          // A handshake refused over HTTP (expired cookie) looks like a network error: check.
          if (s.state === 'backoff' && s.attempt % 3 === 2) this.track(this.checkStillSignedIn());
        },
        onReady: (ev, resumed) => this.track(this.onReady(ev, resumed)),
        onReset: (ev) => this.track(this.onReset(ev)),
        onEvent: (ev) => this.onEvent(ev),
        onProtocolError: (m) => console.warn('chatter: bad frame from server:', m),
      },
    );
    this.socket.start();
    // If the socket cannot get through, still show rooms over REST.
    this.fallbackTimer = setTimeout(() => {
      if (!this.hasSnapshot && this.syncDepth === 0) void this.resync();
    }, this.deps.restFallbackMs ?? 3000);
    if (this.deps.addWindowListeners !== false && typeof window !== 'undefined') {
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

  private teardown(): void {
    this.generation++;
    this.socket?.stop();
    this.socket = null;
    this.outbox?.close();
    this.outbox = null;
    this.unlisten?.();
    this.unlisten = null;
    if (this.fallbackTimer !== null) clearTimeout(this.fallbackTimer);
    this.fallbackTimer = null;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.rooms.clear();
    this.messages.clearAll();
    this.typing.clear();
    this.presence.clear();
    this.lastReadSent.clear();
    this.typingSentAt.clear();
    this.buffered = [];
    this.syncDepth = 0;
    this.hasSnapshot = false;
    this.connection.set({ state: 'idle', attempt: 0, retryAt: null, lastClose: null, synced: false });
    this.ui.set({ activeRoom: null, notice: null, announcement: '' });
  }

  private track(p: Promise<unknown>): void {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }

  /** Resolves when the sync work started by socket events has finished (tests, diagnostics). */
  async idle(): Promise<void> {
    while (this.work.size) await Promise.allSettled([...this.work]);
  }

  reconnectNow(): void {
    this.socket?.reconnectNow();
  }

  // ---- sync --------------------------------------------------------------

  private async onReady(ev: ReadyEvent, resumed: boolean): Promise<void> {
    this.session.updateMe(ev.user);
    this.presence.setOnlineList(ev.online);
    this.unauthorisedCloses = 0;
    if (!resumed || !this.hasSnapshot) await this.resync();
    this.connection.set((c) => ({ ...c, synced: true }));
    await this.flushOutbox();
  }

  private async onReset(_ev: ResetEvent): Promise<void> {
    this.typing.clear();
    this.lastReadSent.clear();
    this.messages.clearTimelines();
    await this.resync();
    await this.flushOutbox();
  }

  /** Reload rooms and the open room over REST; durable events wait meanwhile. */
  async resync(): Promise<void> {
    const gen = this.generation;
    this.syncDepth++;
    try {
      const rooms = await this.api.rooms();
      if (gen !== this.generation) return;
      this.rooms.replaceAll(rooms);
      for (const r of rooms)
        for (const m of r.members) if (!this.presence.get()[m.username]) this.presence.update(m.username, false, null);
      const active = this.ui.get().activeRoom;
      this.messages.clearTimelines();
      this.hasSnapshot = true;
      if (active && !rooms.some((r) => r.id === active)) {
        this.setActiveRoom(null);
      } else if (active) {
        await this.loadLatest(active);
      }
    } catch (e) {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') this.sessionExpired();
      else this.notify(describeError(e), 'error');
    } finally {
      if (gen === this.generation && --this.syncDepth === 0) {
        const queued = this.buffered;
        this.buffered = [];
        for (const ev of queued) this.apply(ev);
      }
    }
  }

  // ---- events ------------------------------------------------------------

  private onEvent(ev: ServerEvent): void {
    if (this.syncDepth > 0 && isDurable(ev)) {
      this.buffered.push(ev);
      return;
    }
    this.apply(ev);
  }

  /** Apply one event to the stores. Every branch is idempotent. */
  apply(ev: ServerEvent): void {
    const me = this.me?.username ?? '';
    switch (ev.type) {
      case 'ack': {
        const p = this.messages.findPending(ev.client_msg_id);
        void this.outbox?.delete(ev.client_msg_id);
        if (p) {
          const msg: Message = {
            id: ev.id,
            seq: ev.seq,
            room: ev.room,
            sender: me,
            body: p.body,
            client_msg_id: ev.client_msg_id,
            created_at: ev.created_at,
          };
          this.messages.addLive(msg);
          this.rooms.onMessage(msg, me);
        }
        break;
      }
      case 'message': {
        const { type: _t, ...msg } = ev;
        this.messages.addLive(msg);
        if (msg.sender === me && msg.client_msg_id) void this.outbox?.delete(msg.client_msg_id);
        if (!this.rooms.room(msg.room)) void this.fetchRoom(msg.room);
        this.rooms.onMessage(msg, me);
        this.typing.clearRoomUser(msg.room, msg.sender);
        if (msg.sender !== me) {
          const room = this.rooms.room(msg.room);
          const who = room?.members.find((m) => m.username === msg.sender)?.name ?? msg.sender;
          const where = room ? (room.kind === 'dm' ? '' : ` in ${room.name}`) : '';
          this.ui.set((s) => ({ ...s, announcement: `${who}${where}: ${msg.body.slice(0, 200)}` }));
        }
        break;
      }
      case 'read':
        this.rooms.onRead(ev.room, ev.user, ev.up_to, me, (upTo) => this.unreadAfter(ev.room, upTo, me));
        break;
      case 'member_added':
        if (ev.username === me || !this.rooms.room(ev.room)) {
          void this.fetchRoom(ev.room);
        } else {
          this.rooms.upsertMember(ev.room, {
            username: ev.username,
            name: ev.username,
            role: ev.role ?? 'member',
            read_up_to: 0,
          });
          void this.fetchRoom(ev.room); // for the display name
        }
        break;
      case 'member_removed':
        if (ev.username === me) this.leftRoom(ev.room, 'removed');
        else this.rooms.removeMember(ev.room, ev.username);
        break;
      case 'member_updated':
        if (this.rooms.room(ev.room)?.members.some((m) => m.username === ev.username))
          this.rooms.setRole(ev.room, ev.username, ev.role);
        else void this.fetchRoom(ev.room);
        break;
      case 'room_updated':
        if (ev.members && ev.name !== undefined && ev.kind) {
          const prev = this.rooms.room(ev.room);
          if (prev) this.rooms.upsert({ ...prev, name: ev.name, members: ev.members, kind: ev.kind });
          else void this.fetchRoom(ev.room);
        } else if (ev.name !== undefined) {
          this.rooms.rename(ev.room, ev.name);
        } else {
          void this.fetchRoom(ev.room);
        }
        break;
      case 'room_deleted':
        this.leftRoom(ev.room, 'deleted');
        break;
      case 'typing':
        if (ev.user !== me) this.typing.set_(ev.room, ev.user, ev.active);
        break;
      case 'presence':
        this.presence.update(ev.user, ev.online, ev.last_seen);
        break;
      case 'error':
        this.onServerError(ev.code, ev.message, ev.ref);
        break;
      case 'ready':
      case 'reset':
      case 'pong':
        break;
    }
  }

  private unreadAfter(room: RoomId, upTo: number, me: Username): number {
    return this.messages.timeline(room).messages.filter((m) => m.id > upTo && m.sender !== me).length;
  }

  private leftRoom(room: RoomId, why: 'removed' | 'deleted'): void {
    const r = this.rooms.room(room);
    this.rooms.remove(room);
    this.messages.dropRoom(room);
    if (this.ui.get().activeRoom === room) {
      this.setActiveRoom(null);
      if (r)
        this.notify(
          why === 'deleted' ? `“${r.name}” was deleted.` : `You are no longer a member of “${r.name}”.`,
          'info',
        );
    }
  }

  private onServerError(code: string, message: string, ref: string | null): void {
    const p = ref ? this.messages.findPending(ref) : null;
    if (p) {
      if (code === 'RATE_LIMITED' || code === 'UNAVAILABLE') {
        const t = setTimeout(
          () => {
            this.retryTimers.delete(t);
            this.trySend(p);
          },
          1000 + Math.random() * 1000,
        );
        this.retryTimers.add(t);
        return;
      }
      // Permanent: the server will never accept this one as it is.
      void this.outbox?.delete(p.client_msg_id);
      const text =
        code === 'NOT_FOUND'
          ? 'Not delivered: you are not a member of this room.'
          : code === 'INVALID_INPUT'
            ? `Not delivered: ${message || 'invalid message'}`
            : code === 'CONFLICT'
              ? 'Not delivered: conflicting message id.'
              : `Not delivered: ${message || code}`;
      this.messages.failPending(p.client_msg_id, text);
      return;
    }
    if (code === 'UNAUTHENTICATED') {
      this.sessionExpired();
      return;
    }
    if (ref === 'read' || ref === 'typing') return;
    this.notify(message || code, 'error');
  }

  // ---- rooms -------------------------------------------------------------

  setActiveRoom(id: RoomId | null): void {
    this.ui.set((s) => (s.activeRoom === id ? s : { ...s, activeRoom: id }));
  }

  async fetchRoom(id: RoomId): Promise<Room | null> {
    try {
      const room = await this.api.room(id);
      this.rooms.upsert(room);
      return room;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'NOT_FOUND') this.leftRoom(id, 'removed');
      return null;
    }
  }

  async createRoom(name: string, members: Username[]): Promise<Room> {
    const room = await this.api.createRoom(name.trim(), members);
    this.rooms.upsert(room);
    return room;
  }

  async openDm(username: Username): Promise<Room> {
    const room = await this.api.openDm(username);
    this.rooms.upsert(room);
    return room;
  }

  async renameRoom(id: RoomId, name: string): Promise<void> {
    this.rooms.upsert(await this.api.renameRoom(id, name.trim()));
  }

  async deleteRoom(id: RoomId): Promise<void> {
    await this.api.deleteRoom(id);
    this.leftRoom(id, 'deleted');
  }

  async addMember(id: RoomId, username: Username, role: 'member' | 'admin' = 'member'): Promise<void> {
    const m = await this.api.addMember(id, username, role);
    this.rooms.upsertMember(id, m);
  }

  async setRole(id: RoomId, username: Username, role: 'member' | 'admin' | 'owner'): Promise<void> {
    const m = await this.api.setRole(id, username, role);
    this.rooms.upsertMember(id, m);
    // Ownership transfer demotes us to admin (the server also sends member_updated).
    if (role === 'owner') await this.fetchRoom(id);
  }

  async removeMember(id: RoomId, username: Username): Promise<void> {
    await this.api.removeMember(id, username);
    if (username === this.me?.username) this.leftRoom(id, 'removed');
    else this.rooms.removeMember(id, username);
  }

  async leaveRoom(id: RoomId): Promise<void> {
    const me = this.me?.username;
    if (!me) return;
    await this.api.removeMember(id, me);
    this.leftRoom(id, 'removed');
  }

  // ---- messages ----------------------------------------------------------

  async loadLatest(room: RoomId): Promise<void> {
    if (this.messages.timeline(room).loaded) return;
    try {
      const page = await this.api.messages(room, null, 50);
      this.messages.setLatestPage(room, page.messages, page.has_more);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'NOT_FOUND') this.leftRoom(room, 'removed');
      else this.notify(describeError(e), 'error');
    }
  }

  async loadOlder(room: RoomId): Promise<void> {
    const t = this.messages.timeline(room);
    if (!t.loaded || t.loadingOlder || !t.hasMore) return;
    const before = t.messages[0]?.id ?? null;
    this.messages.setLoadingOlder(room, true);
    try {
      const page = await this.api.messages(room, before, 50);
      this.messages.prependPage(room, page.messages, page.has_more);
    } catch (e) {
      this.messages.setLoadingOlder(room, false);
      this.notify(describeError(e), 'error');
    }
  }

  /** Optimistic send: shown at once as pending, persisted, sent when possible. */
  async send(room: RoomId, text: string): Promise<string | null> {
    const me = this.me?.username;
    const body = text.replace(/\s+$/u, '');
    if (!me || body.trim().length === 0) return null;
    if ([...body].length > MAX_BODY_CHARS) throw new Error(`Messages can be at most ${MAX_BODY_CHARS} characters.`);
    const entry: OutboxEntry = {
      client_msg_id: newClientMsgId(),
      user: me,
      room,
      body,
      created_at: new Date().toISOString(),
    };
    const p = this.pendingOf(entry);
    this.messages.addPending(p);
    this.setTyping(room, false);
    try {
      await this.outbox?.put(entry);
    } catch {
      /* still sent; only lost if the tab dies before the ack */
    }
    this.trySend(p);
    return entry.client_msg_id;
  }

  async retry(clientMsgId: string): Promise<void> {
    const p = this.messages.retryPending(clientMsgId);
    if (!p) return;
    await this.outbox?.put({
      client_msg_id: p.client_msg_id,
      user: p.sender,
      room: p.room,
      body: p.body,
      created_at: p.created_at,
    });
    this.trySend(p);
  }

  async discard(clientMsgId: string): Promise<void> {
    this.messages.removePending(clientMsgId);
    await this.outbox?.delete(clientMsgId);
  }

  private pendingOf(e: OutboxEntry): PendingMessage {
    return {
      client_msg_id: e.client_msg_id,
      room: e.room,
      sender: e.user,
      body: e.body,
      created_at: e.created_at,
      state: 'pending',
    };
  }

  private trySend(p: PendingMessage): void {
    if (p.state === 'failed') return;
    this.socket?.send({ type: 'send', room: p.room, client_msg_id: p.client_msg_id, body: p.body });
  }

  private async flushOutbox(): Promise<void> {
    const me = this.me?.username;
    if (!me || !this.outbox) return;
    const entries = await this.outbox.list(me);
    for (const e of entries) {
      this.messages.addPending(this.pendingOf(e));
      const p = this.messages.findPending(e.client_msg_id);
      if (p) this.trySend(p);
      else void this.outbox.delete(e.client_msg_id); // already confirmed
    }
  }

  /** Mark messages up to `upTo` as read (call only when they are visible in a focused tab). */
  markRead(room: RoomId, upTo: number): void {
    const me = this.me?.username;
    const r = this.rooms.room(room);
    if (!me || !r || upTo <= 0) return;
    const cursor = r.members.find((m) => m.username === me)?.read_up_to ?? 0;
    if (upTo <= Math.max(cursor, this.lastReadSent.get(room) ?? 0)) {
      if (r.unread > 0 && r.last_message && cursor >= r.last_message.id) this.rooms.onRead(room, me, cursor, me);
      return;
    }
    this.lastReadSent.set(room, upTo);
    this.rooms.onRead(room, me, upTo, me, (u) => this.unreadAfter(room, u, me));
    if (!this.socket?.send({ type: 'read', room, up_to: upTo })) {
      this.api.markRead(room, upTo).catch(() => this.lastReadSent.delete(room));
    }
  }

  /** Throttled typing notifications: at most one `active:true` per 3 s. */
  setTyping(room: RoomId, active: boolean, now = Date.now()): void {
    const last = this.typingSentAt.get(room);
    if (active) {
      if (last !== undefined && now - last < TYPING_THROTTLE_MS) return;
      if (this.socket?.send({ type: 'typing', room, active: true })) this.typingSentAt.set(room, now);
    } else {
      if (last === undefined) return;
      this.typingSentAt.delete(room);
      this.socket?.send({ type: 'typing', room, active: false });
    }
  }

  // ---- notices -----------------------------------------------------------

  notify(text: string, kind: 'info' | 'error' = 'info'): void {
    this.ui.set((s) => ({ ...s, notice: { id: ++this.noticeSeq, text, kind } }));
  }

  dismissNotice(): void {
    this.ui.set((s) => ({ ...s, notice: null }));
  }
}
