/**
 * Our own read cursor. `markRead` is called by the view only for messages
 * on screen in a focused, visible tab; it moves the cursor forward only
 * (never back, never twice to the same id), updates the unread count at
 * once, and sends `read` over the socket, or over REST when the socket is
 * down. A failed REST mark is forgotten so the next call tries again.
 */
import type { Api } from '../api/http';
import type { Sender } from './link';
import type { MessagesStore } from '../store/messages';
import type { RoomsStore } from '../store/rooms';
import type { MessageId, RoomId, Username } from '../wire/types';

/** Loaded messages from others after `upTo`: the unread count when the cursor is inside the timeline. */
export function unreadAfter(messages: MessagesStore, room: RoomId, upTo: MessageId, me: Username): number {
  return messages.timeline(room).messages.filter((m) => m.id > upTo && m.sender !== me).length;
}

export interface ReadsDeps {
  api: Pick<Api, 'markRead'>;
  link: Sender;
  rooms: RoomsStore;
  messages: MessagesStore;
  me: () => Username | null;
}

export class Reads {
  /** The highest `up_to` sent per room since the last snapshot. */
  private lastSent = new Map<RoomId, MessageId>();

  constructor(private readonly d: ReadsDeps) {}

  markRead(room: RoomId, upTo: MessageId): void {
    const me = this.d.me();
    const r = this.d.rooms.room(room);
    if (!me || !r || upTo <= 0) return;
    const cursor = r.members.find((m) => m.username === me)?.read_up_to ?? 0;
    if (upTo <= Math.max(cursor, this.lastSent.get(room) ?? 0)) {
      if (r.unread > 0 && r.last_message && cursor >= r.last_message.id) this.d.rooms.onRead(room, me, cursor, me);
      return;
    }
    this.lastSent.set(room, upTo);
    this.d.rooms.onRead(room, me, upTo, me, (u) => unreadAfter(this.d.messages, room, u, me));
    if (!this.d.link.send({ type: 'read', room, up_to: upTo })) {
      this.d.api.markRead(room, upTo).catch(() => this.lastSent.delete(room));
    }
  }

  /** Signed out, or the server reset our cursor: what we sent no longer counts. */
  reset(): void {
    this.lastSent.clear();
  }
}
