/**
 * The rooms the user belongs to: membership, roles, read cursors, unread
 * counts and last-message previews. Read cursors only move forward.
 */
import { Store } from './store';
import type { Member, Message, MessageId, Room, RoomId, Username } from '../wire/types';

export interface RoomsState {
  byId: Record<RoomId, Room>;
  /** Bumped by `reset`/reload so views can tell a fresh snapshot. */
  generation: number;
}

export function activityTime(r: Room): string {
  return r.last_message?.created_at ?? r.created_at;
}

/** Most recent activity first (ties: newest message id, then id). */
export function sortRooms(rooms: Room[]): Room[] {
  return [...rooms].sort((a, b) => {
    const ta = activityTime(a);
    const tb = activityTime(b);
    if (ta !== tb) return ta < tb ? 1 : -1;
    const ia = a.last_message?.id ?? 0;
    const ib = b.last_message?.id ?? 0;
    if (ia !== ib) return ib - ia;
    return a.id < b.id ? -1 : 1;
  });
}

export class RoomsStore extends Store<RoomsState> {
  constructor() {
    super({ byId: {}, generation: 0 });
  }

  room(id: RoomId): Room | undefined {
    return this.get().byId[id];
  }

  replaceAll(rooms: Room[]): void {
    const byId: Record<RoomId, Room> = {};
    for (const r of rooms) byId[r.id] = r;
    this.set((s) => ({ byId, generation: s.generation + 1 }));
  }

  upsert(room: Room): void {
    this.set((s) => {
      const prev = s.byId[room.id];
      let merged = room;
      if (prev) {
        // Never move read cursors back, never lose a newer last message.
        const members = room.members.map((m) => {
          const old = prev.members.find((x) => x.username === m.username);
          return old && old.read_up_to > m.read_up_to ? { ...m, read_up_to: old.read_up_to } : m;
        });
        const last =
          prev.last_message && (!room.last_message || prev.last_message.id > room.last_message.id)
            ? prev.last_message
            : room.last_message;
        merged = { ...room, members, last_message: last };
      }
      return { ...s, byId: { ...s.byId, [room.id]: merged } };
    });
  }

  private patch(id: RoomId, f: (r: Room) => Room): void {
    this.set((s) => {
      const r = s.byId[id];
      if (!r) return s;
      const n = f(r);
      return n === r ? s : { ...s, byId: { ...s.byId, [id]: n } };
    });
  }

  remove(id: RoomId): void {
    this.set((s) => {
      if (!s.byId[id]) return s;
      const byId = { ...s.byId };
      delete byId[id];
      return { ...s, byId };
    });
  }

  rename(id: RoomId, name: string): void {
    this.patch(id, (r) => (r.name === name ? r : { ...r, name }));
  }

  setMembers(id: RoomId, members: Member[]): void {
    this.patch(id, (r) => ({ ...r, members }));
  }

  upsertMember(id: RoomId, member: Member): void {
    this.patch(id, (r) => {
      const i = r.members.findIndex((m) => m.username === member.username);
      const members = [...r.members];
      if (i >= 0) members[i] = { ...member, read_up_to: Math.max(member.read_up_to, members[i]!.read_up_to) };
      else members.push(member);
      return { ...r, members };
    });
  }

  setRole(id: RoomId, username: Username, role: Member['role']): void {
    this.patch(id, (r) =>
      r.members.some((m) => m.username === username && m.role !== role)
        ? { ...r, members: r.members.map((m) => (m.username === username ? { ...m, role } : m)) }
        : r,
    );
  }

  removeMember(id: RoomId, username: Username): void {
    this.patch(id, (r) =>
      r.members.some((m) => m.username === username)
        ? { ...r, members: r.members.filter((m) => m.username !== username) }
        : r,
    );
  }

  /** A new message: preview, ordering, and unread when it is someone else's. */
  onMessage(msg: Message, me: Username): void {
    this.patch(msg.room, (r) => {
      if (r.last_message && r.last_message.id >= msg.id) return r;
      const mine = msg.sender === me;
      const myCursor = r.members.find((m) => m.username === me)?.read_up_to ?? 0;
      const unread = !mine && msg.id > myCursor ? r.unread + 1 : mine ? 0 : r.unread;
      // Sending implies having read everything before it.
      const members = mine
        ? r.members.map((m) => (m.username === me && m.read_up_to < msg.id ? { ...m, read_up_to: msg.id } : m))
        : r.members;
      return { ...r, last_message: msg, unread, members };
    });
  }

  /** A read cursor moved (live `read` event or our own optimistic mark). */
  onRead(id: RoomId, user: Username, upTo: MessageId, me: Username, unreadAfter?: (upTo: MessageId) => number): void {
    this.patch(id, (r) => {
      let changed = false;
      const members = r.members.map((m) => {
        if (m.username !== user || m.read_up_to >= upTo) return m;
        changed = true;
        return { ...m, read_up_to: upTo };
      });
      let unread = r.unread;
      if (user === me) {
        if (r.last_message && upTo >= r.last_message.id) unread = 0;
        else if (unreadAfter) unread = Math.min(r.unread, unreadAfter(upTo));
      }
      if (!changed && unread === r.unread) return r;
      return { ...r, members, unread };
    });
  }

  clear(): void {
    this.set((s) => ({ byId: {}, generation: s.generation + 1 }));
  }
}

/** Members other than the sender whose cursor covers the message. */
export function readersOf(room: Room | undefined, msg: { id: MessageId; sender: Username }): Member[] {
  if (!room) return [];
  return room.members.filter((m) => m.username !== msg.sender && m.read_up_to >= msg.id);
}

export function myRole(room: Room | undefined, me: Username | undefined): Member['role'] | null {
  if (!room || !me) return null;
  return room.members.find((m) => m.username === me)?.role ?? null;
}

/** Permission rules from PROTOCOL.md section 3. */
export const can = {
  rename: (room: Room, role: Member['role'] | null) => room.kind === 'group' && (role === 'owner' || role === 'admin'),
  delete: (room: Room, role: Member['role'] | null) => room.kind === 'group' && role === 'owner',
  addMember: (room: Room, role: Member['role'] | null) =>
    room.kind === 'group' && (role === 'owner' || role === 'admin'),
  removeMember: (room: Room, role: Member['role'] | null, target: Member) =>
    room.kind === 'group' && (role === 'owner' || role === 'admin') && target.role !== 'owner',
  changeRole: (room: Room, role: Member['role'] | null, target: Member) =>
    room.kind === 'group' && role === 'owner' && target.role !== 'owner',
  leave: (room: Room, role: Member['role'] | null) => room.kind === 'group' && role !== null && role !== 'owner',
};
