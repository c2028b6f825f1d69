/**
 * The wire contract (PROTOCOL.md v1) as TypeScript types.
 *
 * Server frames are discriminated unions on `type`; every value received
 * from the network goes through `validate.ts` before it reaches a store, so
 * the rest of the app can trust these shapes. Extra fields the server adds
 * are tolerated (the contract allows additions) and dropped.
 */

export type Time = string; // RFC 3339 UTC, millisecond precision
export type RoomId = string;
export type MessageId = number;
export type Seq = number;
export type Username = string;

export interface User {
  username: Username;
  name: string;
  online: boolean;
  last_seen: Time | null;
}

export type Role = 'owner' | 'admin' | 'member';

export interface Member {
  username: Username;
  name: string;
  role: Role;
  read_up_to: MessageId; // 0 when nothing read
}

export interface Message {
  id: MessageId;
  seq: Seq;
  room: RoomId;
  sender: Username;
  body: string;
  client_msg_id: string | null;
  created_at: Time;
}

export interface Room {
  id: RoomId;
  kind: 'group' | 'dm';
  name: string;
  members: Member[];
  last_message: Message | null;
  unread: number;
  created_at: Time;
}

export interface MessagesPage {
  messages: Message[];
  has_more: boolean;
}

export interface LoginResult {
  user: User;
  token: string;
  expires_at: Time;
}

// ---- socket: server -> client -------------------------------------------

export interface ReadyEvent {
  type: 'ready';
  epoch: string;
  seq: Seq;
  user: User;
  online: Username[];
}
export interface AckEvent {
  type: 'ack';
  client_msg_id: string;
  id: MessageId;
  seq: Seq;
  room: RoomId;
  created_at: Time;
}
export interface MessageEvent extends Message {
  type: 'message';
}
export interface ReadEvent {
  type: 'read';
  seq: Seq;
  room: RoomId;
  user: Username;
  up_to: MessageId;
}
export interface MemberAddedEvent {
  type: 'member_added';
  seq: Seq;
  room: RoomId;
  username: Username;
  role?: Role;
}
/** Server extension (not in PROTOCOL.md v1): a member's role changed (also ownership transfer). */
export interface MemberUpdatedEvent {
  type: 'member_updated';
  seq: Seq;
  room: RoomId;
  username: Username;
  role: Role;
}
export interface MemberRemovedEvent {
  type: 'member_removed';
  seq: Seq;
  room: RoomId;
  username: Username;
}
export interface RoomUpdatedEvent {
  type: 'room_updated';
  seq: Seq;
  room: RoomId;
  name?: string;
  kind?: Room['kind'];
  members?: Member[];
}
export interface RoomDeletedEvent {
  type: 'room_deleted';
  seq: Seq;
  room: RoomId;
}
export interface TypingEvent {
  type: 'typing';
  room: RoomId;
  user: Username;
  active: boolean;
}
export interface PresenceEvent {
  type: 'presence';
  user: Username;
  online: boolean;
  last_seen: Time | null;
}
export interface ResetEvent {
  type: 'reset';
  epoch: string;
  seq: Seq;
}
export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  ref: string | null;
}
export interface PongEvent {
  type: 'pong';
}

export type DurableEvent =
  | MessageEvent
  | ReadEvent
  | MemberAddedEvent
  | MemberRemovedEvent
  | MemberUpdatedEvent
  | RoomUpdatedEvent
  | RoomDeletedEvent;

export type ServerEvent =
  ReadyEvent | AckEvent | DurableEvent | TypingEvent | PresenceEvent | ResetEvent | ErrorEvent | PongEvent;

export type ServerEventType = ServerEvent['type'];

export function isDurable(e: ServerEvent): e is DurableEvent {
  switch (e.type) {
    case 'message':
    case 'read':
    case 'member_added':
    case 'member_removed':
    case 'member_updated':
    case 'room_updated':
    case 'room_deleted':
      return true;
    default:
      return false;
  }
}

// ---- socket: client -> server -------------------------------------------

export type ClientFrame =
  | { type: 'hello'; since?: Seq; epoch?: string }
  | { type: 'send'; room: RoomId; client_msg_id: string; body: string }
  | { type: 'typing'; room: RoomId; active: boolean }
  | { type: 'read'; room: RoomId; up_to: MessageId }
  | { type: 'ping' };

// ---- REST errors ----------------------------------------------------------

export type ErrorCode =
  | 'INVALID_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'NETWORK'
  | 'BAD_RESPONSE';

export const MAX_BODY_CHARS = 4000;
export const USERNAME_RE = /^[a-z0-9_]{3,32}$/;
