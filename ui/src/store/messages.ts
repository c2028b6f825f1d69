/**
 * Per-room message timelines and the optimistic (pending) messages.
 *
 * Invariants: a timeline's `messages` are sorted by id with no duplicate id
 * and no duplicate (sender, client_msg_id); a pending message disappears the
 * moment a confirmed message with its client_msg_id exists (from `ack`, the
 * `message` event or a REST page, whichever comes first). So a message is
 * never shown twice, whatever order those three arrive in.
 */
import { Store } from './store';
import type { Message, MessageId, RoomId, Username } from '../wire/types';

export interface Timeline {
  messages: Message[];
  /** More history exists before messages[0] on the server. */
  hasMore: boolean;
  /** The newest page has been fetched (so `messages` is the live tail). */
  loaded: boolean;
  loadingOlder: boolean;
}

export interface PendingMessage {
  client_msg_id: string;
  room: RoomId;
  sender: Username;
  body: string;
  created_at: string; // local time of the send, for display and order
  state: 'pending' | 'failed';
  error?: string;
}

export interface MessagesState {
  timelines: Record<RoomId, Timeline>;
  pending: Record<RoomId, PendingMessage[]>;
}

const EMPTY_TIMELINE: Timeline = { messages: [], hasMore: true, loaded: false, loadingOlder: false };
const NO_PENDING: PendingMessage[] = [];

/** A message as edited (pure). */
export function withEdit(m: Message, body: string, editedAt: string, mentions: Username[]): Message {
  return m.deleted ? m : { ...m, body, edited_at: editedAt, mentions };
}

/** A message as its tombstone: same id, seq, room, sender and times; nothing of its content (pure). */
export function asTombstone(m: Message): Message {
  return {
    ...m,
    deleted: true,
    body: '',
    edited_at: null,
    reply_to: null,
    mentions: [],
    reactions: [],
    attachments: [],
  };
}

/** A message with ``user``'s ``emoji`` reaction set ``on`` or off (pure, idempotent). */
export function withReaction(m: Message, emoji: string, user: Username, on: boolean): Message {
  if (m.deleted) return m;
  const has = m.reactions.some((r) => r.emoji === emoji && r.users.includes(user));
  if (has === on) return m;
  let reactions = m.reactions.map((r) =>
    r.emoji !== emoji ? r : { emoji, users: on ? [...r.users, user] : r.users.filter((u) => u !== user) },
  );
  if (on && !reactions.some((r) => r.emoji === emoji)) reactions = [...reactions, { emoji, users: [user] }];
  return { ...m, reactions: reactions.filter((r) => r.users.length > 0) };
}

/** Merge messages into a sorted, de-duplicated list (pure). */
export function mergeMessages(existing: Message[], incoming: Message[]): Message[] {
  if (incoming.length === 0) return existing;
  const byId = new Map<number, Message>();
  const byClient = new Set<string>();
  for (const m of existing) {
    byId.set(m.id, m);
    if (m.client_msg_id) byClient.add(`${m.sender}\u0000${m.client_msg_id}`);
  }
  let changed = false;
  for (const m of incoming) {
    if (byId.has(m.id)) continue;
    const ck = m.client_msg_id ? `${m.sender}\u0000${m.client_msg_id}` : null;
    if (ck && byClient.has(ck)) continue;
    byId.set(m.id, m);
    if (ck) byClient.add(ck);
    changed = true;
  }
  if (!changed) return existing;
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

export class MessagesStore extends Store<MessagesState> {
  constructor() {
    super({ timelines: {}, pending: {} });
  }

  timeline(room: RoomId): Timeline {
    return this.get().timelines[room] ?? EMPTY_TIMELINE;
  }

  pendingFor(room: RoomId): PendingMessage[] {
    return this.get().pending[room] ?? NO_PENDING;
  }

  private updateTimeline(room: RoomId, f: (t: Timeline) => Timeline): void {
    this.set((s) => {
      const before = s.timelines[room] ?? EMPTY_TIMELINE;
      const after = f(before);
      if (after === before) return s;
      return { ...s, timelines: { ...s.timelines, [room]: after } };
    });
  }

  /** Drop pending entries that now have a confirmed message. */
  private settlePending(room: RoomId, msgs: Message[]): void {
    const ids = new Set(msgs.map((m) => m.client_msg_id).filter((x): x is string => !!x));
    if (ids.size === 0) return;
    this.set((s) => {
      const list = s.pending[room];
      if (!list || !list.some((p) => ids.has(p.client_msg_id))) return s;
      return { ...s, pending: { ...s.pending, [room]: list.filter((p) => !ids.has(p.client_msg_id)) } };
    });
  }

  /** A live or acked message. Only appended to a timeline that holds the live tail. */
  addLive(msg: Message): void {
    this.updateTimeline(msg.room, (t) => {
      if (!t.loaded) return t;
      const merged = mergeMessages(t.messages, [msg]);
      return merged === t.messages ? t : { ...t, messages: merged };
    });
    this.settlePending(msg.room, [msg]);
  }

  /** The newest page, fetched when a room is opened (or reopened after reset). */
  setLatestPage(room: RoomId, msgs: Message[], hasMore: boolean): void {
    this.updateTimeline(room, (t) => ({
      ...t,
      // Keep live messages that arrived while the page was in flight.
      messages: mergeMessages(t.loaded ? t.messages : [], msgs),
      hasMore: t.loaded ? t.hasMore && hasMore : hasMore,
      loaded: true,
    }));
    this.settlePending(room, msgs);
  }

  setLoadingOlder(room: RoomId, loading: boolean): void {
    this.updateTimeline(room, (t) => (t.loadingOlder === loading ? t : { ...t, loadingOlder: loading }));
  }

  prependPage(room: RoomId, msgs: Message[], hasMore: boolean): void {
    this.updateTimeline(room, (t) => ({
      ...t,
      messages: mergeMessages(t.messages, msgs),
      hasMore,
      loadingOlder: false,
    }));
    this.settlePending(room, msgs);
  }

  /** Replace one loaded message by ``f`` of it (an edit, a deletion, a reaction); absent: nothing. */
  patch(room: RoomId, id: MessageId, f: (m: Message) => Message): void {
    this.updateTimeline(room, (t) => {
      const i = t.messages.findIndex((m) => m.id === id);
      if (i < 0) return t;
      const messages = [...t.messages];
      messages[i] = f(messages[i]!);
      return { ...t, messages };
    });
  }

  addPending(p: PendingMessage): void {
    this.set((s) => {
      const list = s.pending[p.room] ?? [];
      if (list.some((x) => x.client_msg_id === p.client_msg_id)) return s;
      // Already confirmed (e.g. restored from the outbox after its ack was seen)?
      const t = s.timelines[p.room];
      if (t?.messages.some((m) => m.client_msg_id === p.client_msg_id && m.sender === p.sender)) return s;
      return { ...s, pending: { ...s.pending, [p.room]: [...list, p] } };
    });
  }

  failPending(clientMsgId: string, error: string): PendingMessage | null {
    let found: PendingMessage | null = null;
    this.set((s) => {
      for (const [room, list] of Object.entries(s.pending)) {
        const i = list.findIndex((p) => p.client_msg_id === clientMsgId);
        if (i >= 0) {
          found = list[i]!;
          const next = [...list];
          next[i] = { ...found, state: 'failed', error };
          return { ...s, pending: { ...s.pending, [room]: next } };
        }
      }
      return s;
    });
    return found;
  }

  retryPending(clientMsgId: string): PendingMessage | null {
    let found: PendingMessage | null = null;
    this.set((s) => {
      for (const [room, list] of Object.entries(s.pending)) {
        const i = list.findIndex((p) => p.client_msg_id === clientMsgId);
        if (i >= 0) {
          const next = [...list];
          found = { ...list[i]!, state: 'pending' };
          delete found.error;
          next[i] = found;
          return { ...s, pending: { ...s.pending, [room]: next } };
        }
      }
      return s;
    });
    return found;
  }

  removePending(clientMsgId: string): void {
    this.set((s) => {
      for (const [room, list] of Object.entries(s.pending)) {
        if (list.some((p) => p.client_msg_id === clientMsgId)) {
          return { ...s, pending: { ...s.pending, [room]: list.filter((p) => p.client_msg_id !== clientMsgId) } };
        }
      }
      return s;
    });
  }

  findPending(clientMsgId: string): PendingMessage | null {
    for (const list of Object.values(this.get().pending)) {
      const p = list.find((x) => x.client_msg_id === clientMsgId);
      if (p) return p;
    }
    return null;
  }

  dropRoom(room: RoomId): void {
    this.set((s) => {
      const timelines = { ...s.timelines };
      const pending = { ...s.pending };
      delete timelines[room];
      delete pending[room];
      return { timelines, pending };
    });
  }

  /** `reset`: forget every timeline (pending messages survive and are resent). */
  clearTimelines(): void {
    this.set((s) => ({ ...s, timelines: {} }));
  }

  clearAll(): void {
    this.set({ timelines: {}, pending: {} });
  }

  lastId(room: RoomId): MessageId {
    const msgs = this.timeline(room).messages;
    return msgs.length ? msgs[msgs.length - 1]!.id : 0;
  }
}
