/**
 * Server events -> store updates: one small handler per event type.
 *
 * Every handler is idempotent (the stores dedupe by id and only move cursors
 * forward), because an event can arrive twice: live and again in a REST
 * page, or after a resync. Handlers never await; what needs the network
 * (a room we do not know yet) is started and left to finish on its own.
 *
 * To handle a new event type: write `function onThing(ev, c)` (here, or in
 * the feature's own module) and add it to `eventHandlers`. The table's type
 * lists every `ServerEvent` type, so the compiler names any type that has no
 * handler.
 */
import type { Loader } from './loader';
import { unreadAfter, type Reads } from './reads';
import type { Sending } from './sending';
import { asTombstone, withEdit, withReaction, type MessagesStore } from '../store/messages';
import type { PresenceStore } from '../store/presence';
import type { RoomsStore } from '../store/rooms';
import type { TypingStore } from '../store/typing';
import type { UiStore } from '../store/ui';
import type { ServerEvent, ServerEventType, Username } from '../wire/types';

/** Announcements for screen readers quote at most this much of a message. */
export const ANNOUNCE_CHARS = 200;

export interface EventContext {
  /** Our username ('' when signed out). */
  me(): Username;
  rooms: RoomsStore;
  messages: MessagesStore;
  typing: TypingStore;
  presence: PresenceStore;
  ui: UiStore;
  loader: Pick<Loader, 'fetchRoom' | 'leftRoom'>;
  sending: Pick<Sending, 'acked' | 'delivered' | 'rejected'>;
  /** Our read cursor: sending a message means having read the room up to it. */
  reads: Pick<Reads, 'markRead'>;
  sessionExpired(): void;
}

export type EventOf<K extends ServerEventType> = Extract<ServerEvent, { type: K }>;
export type EventHandler<K extends ServerEventType> = (ev: EventOf<K>, c: EventContext) => void;
export type EventTable = { [K in ServerEventType]: EventHandler<K> };

export function onAck(ev: EventOf<'ack'>, c: EventContext): void {
  const msg = c.sending.acked(ev);
  if (!msg) return;
  c.messages.addLive(msg);
  // Before onMessage, which moves the local cursor: the server must hear it too.
  c.reads.markRead(msg.room, msg.id);
  c.rooms.onMessage(msg, c.me());
}

export function onMessage(ev: EventOf<'message'>, c: EventContext): void {
  const me = c.me();
  const { type: _type, ...msg } = ev;
  c.messages.addLive(msg);
  if (msg.sender === me && msg.client_msg_id) c.sending.delivered(msg.client_msg_id);
  if (!c.rooms.room(msg.room)) void c.loader.fetchRoom(msg.room);
  // Our own message (from this tab or another of ours): we have read up to it.
  if (msg.sender === me) c.reads.markRead(msg.room, msg.id);
  c.rooms.onMessage(msg, me);
  c.typing.clearRoomUser(msg.room, msg.sender);
  if (msg.sender !== me) {
    const room = c.rooms.room(msg.room);
    const who = room?.members.find((m) => m.username === msg.sender)?.name ?? msg.sender;
    const where = room ? (room.kind === 'dm' ? '' : ` in ${room.name}`) : '';
    c.ui.announce(`${who}${where}: ${msg.body.slice(0, ANNOUNCE_CHARS)}`);
  }
}

export function onRead(ev: EventOf<'read'>, c: EventContext): void {
  const me = c.me();
  c.rooms.onRead(ev.room, ev.user, ev.up_to, me, (upTo) => unreadAfter(c.messages, ev.room, upTo, me));
}

export function onMemberAdded(ev: EventOf<'member_added'>, c: EventContext): void {
  if (ev.username !== c.me() && c.rooms.room(ev.room)) {
    // Show the member at once; the fetch below brings the display name.
    c.rooms.upsertMember(ev.room, {
      username: ev.username,
      name: ev.username,
      role: ev.role ?? 'member',
      read_up_to: 0,
    });
  }
  void c.loader.fetchRoom(ev.room);
}

export function onMemberRemoved(ev: EventOf<'member_removed'>, c: EventContext): void {
  if (ev.username === c.me()) c.loader.leftRoom(ev.room, 'removed');
  else c.rooms.removeMember(ev.room, ev.username);
}

export function onMemberUpdated(ev: EventOf<'member_updated'>, c: EventContext): void {
  if (c.rooms.room(ev.room)?.members.some((m) => m.username === ev.username))
    c.rooms.setRole(ev.room, ev.username, ev.role);
  else void c.loader.fetchRoom(ev.room);
}

/** A rename (the event carries the room's id, kind, name and created_at; members change by member events). */
export function onRoomUpdated(ev: EventOf<'room_updated'>, c: EventContext): void {
  if (c.rooms.room(ev.room)) c.rooms.rename(ev.room, ev.name);
  else void c.loader.fetchRoom(ev.room);
}

export function onRoomDeleted(ev: EventOf<'room_deleted'>, c: EventContext): void {
  c.loader.leftRoom(ev.room, 'deleted');
}

export function onTyping(ev: EventOf<'typing'>, c: EventContext): void {
  if (ev.user !== c.me()) c.typing.set_(ev.room, ev.user, ev.active);
}

export function onPresence(ev: EventOf<'presence'>, c: EventContext): void {
  c.presence.update(ev.user, ev.online, ev.last_seen);
}

export function onError(ev: EventOf<'error'>, c: EventContext): void {
  if (c.sending.rejected(ev)) return;
  if (ev.code === 'UNAUTHENTICATED') {
    c.sessionExpired();
    return;
  }
  // A refused read or typing hint is not worth a notice: the next one retries.
  if (ev.ref === 'read' || ev.ref === 'typing') return;
  c.ui.notify(ev.message || ev.code, 'error');
}

export function onMessageUpdated(ev: EventOf<'message_updated'>, c: EventContext): void {
  c.messages.patch(ev.room, ev.id, (m) => withEdit(m, ev.body, ev.edited_at, ev.mentions));
}

export function onMessageDeleted(ev: EventOf<'message_deleted'>, c: EventContext): void {
  c.messages.patch(ev.room, ev.id, asTombstone);
}

export function onReaction(ev: EventOf<'reaction'>, c: EventContext): void {
  c.messages.patch(ev.room, ev.id, (m) => withReaction(m, ev.emoji, ev.user, ev.on));
}

/** For events the socket client and Sync consume before the table (ready, reset, pong). */
function handledElsewhere(): void {}

export const eventHandlers: EventTable = {
  ack: onAck,
  message: onMessage,
  read: onRead,
  member_added: onMemberAdded,
  member_removed: onMemberRemoved,
  member_updated: onMemberUpdated,
  room_updated: onRoomUpdated,
  room_deleted: onRoomDeleted,
  message_updated: onMessageUpdated,
  message_deleted: onMessageDeleted,
  reaction: onReaction,
  typing: onTyping,
  presence: onPresence,
  error: onError,
  ready: handledElsewhere,
  reset: handledElsewhere,
  pong: handledElsewhere,
};

/** Apply one event with the handler for its type. */
export function applyEvent(table: EventTable, ev: ServerEvent, c: EventContext): void {
  // TypeScript cannot correlate `table[ev.type]` with `ev`; the table's type guarantees they match.
  (table[ev.type] as EventHandler<ServerEventType>)(ev, c);
}
