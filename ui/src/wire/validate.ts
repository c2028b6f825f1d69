/**
 * Validators for everything received from the server.
 *
 * Each `parseX` either returns a value of the declared type (with only the
 * known fields, copied) or throws `WireError`. `parseServerFrame` accepts a
 * text frame holding one event object or an array of them; events of an
 * unknown `type` are skipped (the server may add event types) while known
 * types with a wrong shape are reported, never passed on.
 */
import type { DurableEvent, Member, Message, MessagesPage, Role, Room, ServerEvent, User } from './types';

export class WireError extends Error {
  override name = 'WireError';
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WireError(`${what}: expected object`);
  return v as Obj;
}
function str(o: Obj, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new WireError(`${what}.${k}: expected string`);
  return v;
}
function optStr(o: Obj, k: string, what: string): string | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new WireError(`${what}.${k}: expected string or null`);
  return v;
}
function int(o: Obj, k: string, what: string, min = 0): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new WireError(`${what}.${k}: expected integer >= ${min}`);
  return v;
}
function bool(o: Obj, k: string, what: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') throw new WireError(`${what}.${k}: expected boolean`);
  return v;
}
function arr(o: Obj, k: string, what: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw new WireError(`${what}.${k}: expected array`);
  return v;
}
function role(o: Obj, k: string, what: string): Role {
  const v = o[k];
  if (v === 'owner' || v === 'admin' || v === 'member') return v;
  throw new WireError(`${what}.${k}: expected role`);
}

export function parseUser(v: unknown, what = 'user'): User {
  const o = obj(v, what);
  return {
    username: str(o, 'username', what),
    name: str(o, 'name', what),
    online: o.online === undefined ? false : bool(o, 'online', what),
    last_seen: optStr(o, 'last_seen', what),
  };
}

export function parseMember(v: unknown, what = 'member'): Member {
  const o = obj(v, what);
  return {
    username: str(o, 'username', what),
    name: typeof o.name === 'string' ? o.name : str(o, 'username', what),
    role: role(o, 'role', what),
    read_up_to: o.read_up_to === undefined || o.read_up_to === null ? 0 : int(o, 'read_up_to', what),
  };
}

export function parseMessage(v: unknown, what = 'message'): Message {
  const o = obj(v, what);
  return {
    id: int(o, 'id', what, 1),
    seq: int(o, 'seq', what, 1),
    room: str(o, 'room', what),
    sender: str(o, 'sender', what),
    body: str(o, 'body', what),
    client_msg_id: optStr(o, 'client_msg_id', what),
    created_at: str(o, 'created_at', what),
  };
}

export function parseRoom(v: unknown, what = 'room'): Room {
  const o = obj(v, what);
  const kind = o.kind;
  if (kind !== 'group' && kind !== 'dm') throw new WireError(`${what}.kind: expected "group" or "dm"`);
  return {
    id: str(o, 'id', what),
    kind,
    name: typeof o.name === 'string' ? o.name : '',
    members: arr(o, 'members', what).map((m, i) => parseMember(m, `${what}.members[${i}]`)),
    last_message: o.last_message == null ? null : parseMessage(o.last_message, `${what}.last_message`),
    unread: o.unread === undefined ? 0 : int(o, 'unread', what),
    created_at: str(o, 'created_at', what),
  };
}

export function parseRooms(v: unknown): Room[] {
  const o = obj(v, 'rooms');
  return arr(o, 'rooms', 'rooms').map((r, i) => parseRoom(r, `rooms[${i}]`));
}

export function parseUsers(v: unknown): User[] {
  const o = obj(v, 'users');
  return arr(o, 'users', 'users').map((u, i) => parseUser(u, `users[${i}]`));
}

export function parseMessagesPage(v: unknown): MessagesPage {
  const o = obj(v, 'page');
  return {
    messages: arr(o, 'messages', 'page').map((m, i) => parseMessage(m, `messages[${i}]`)),
    has_more: bool(o, 'has_more', 'page'),
  };
}

/** Parse one server event object. Returns null for an unknown `type`. */
export function parseServerEvent(v: unknown): ServerEvent | null {
  const o = obj(v, 'event');
  const t = o.type;
  const w = typeof t === 'string' ? t : 'event';
  switch (t) {
    case 'ready':
      return {
        type: 'ready',
        epoch: str(o, 'epoch', w),
        seq: int(o, 'seq', w),
        user: parseUser(o.user, 'ready.user'),
        online: arr(o, 'online', w).map((u) => {
          if (typeof u !== 'string') throw new WireError('ready.online: expected usernames');
          return u;
        }),
      };
    case 'ack':
      return {
        type: 'ack',
        client_msg_id: str(o, 'client_msg_id', w),
        id: int(o, 'id', w, 1),
        seq: int(o, 'seq', w, 1),
        room: str(o, 'room', w),
        created_at: str(o, 'created_at', w),
      };
    case 'message':
      return { type: 'message', ...parseMessage(o, w) };
    case 'read':
      return {
        type: 'read',
        seq: int(o, 'seq', w, 1),
        room: str(o, 'room', w),
        user: str(o, 'user', w),
        up_to: int(o, 'up_to', w),
      };
    case 'member_added': {
      const ev: DurableEvent = {
        type: 'member_added',
        seq: int(o, 'seq', w, 1),
        room: str(o, 'room', w),
        username: str(o, 'username', w),
      };
      if (o.role !== undefined && o.role !== null) ev.role = role(o, 'role', w);
      return ev;
    }
    case 'member_removed':
      return {
        type: 'member_removed',
        seq: int(o, 'seq', w, 1),
        room: str(o, 'room', w),
        username: str(o, 'username', w),
      };
    case 'member_updated':
      return {
        type: 'member_updated',
        seq: int(o, 'seq', w, 1),
        room: str(o, 'room', w),
        username: str(o, 'username', w),
        role: role(o, 'role', w),
      };
    case 'room_updated': {
      // `room` is the room id; the Room fields ride along (maybe with `id`).
      const roomId = typeof o.room === 'string' ? o.room : str(o, 'id', w);
      const ev: DurableEvent = { type: 'room_updated', seq: int(o, 'seq', w, 1), room: roomId };
      if (typeof o.name === 'string') ev.name = o.name;
      if (o.kind === 'group' || o.kind === 'dm') ev.kind = o.kind;
      if (Array.isArray(o.members)) ev.members = o.members.map((m, i) => parseMember(m, `${w}.members[${i}]`));
      return ev;
    }
    case 'room_deleted':
      return { type: 'room_deleted', seq: int(o, 'seq', w, 1), room: str(o, 'room', w) };
    case 'typing':
      return { type: 'typing', room: str(o, 'room', w), user: str(o, 'user', w), active: bool(o, 'active', w) };
    case 'presence':
      return {
        type: 'presence',
        user: str(o, 'user', w),
        online: bool(o, 'online', w),
        last_seen: optStr(o, 'last_seen', w),
      };
    case 'reset':
      return { type: 'reset', epoch: str(o, 'epoch', w), seq: int(o, 'seq', w) };
    case 'error':
      return {
        type: 'error',
        code: str(o, 'code', w),
        message: typeof o.message === 'string' ? o.message : '',
        ref: optStr(o, 'ref', w),
      };
    case 'pong':
      return { type: 'pong' };
    default:
      if (typeof t !== 'string') throw new WireError('event.type: expected string');
      return null;
  }
}

export interface ParsedFrame {
  events: ServerEvent[];
  /** Problems with individual events; the valid ones are still delivered. */
  errors: string[];
}

/** Parse a text frame: one event object, or a JSON array of them. */
export function parseServerFrame(text: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { events: [], errors: ['frame: invalid JSON'] };
  }
  const items = Array.isArray(raw) ? raw : [raw];
  const events: ServerEvent[] = [];
  const errors: string[] = [];
  for (const item of items) {
    try {
      const ev = parseServerEvent(item);
      if (ev) events.push(ev);
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  return { events, errors };
}

/** A REST error body `{"error":{"code","message"}}`, or null. */
export function parseApiError(v: unknown): { code: string; message: string } | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = (v as Obj).error;
  if (typeof e !== 'object' || e === null) return null;
  const code = (e as Obj).code;
  const message = (e as Obj).message;
  if (typeof code !== 'string') return null;
  return { code, message: typeof message === 'string' ? message : '' };
}
