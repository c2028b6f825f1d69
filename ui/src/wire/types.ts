/**
 * The wire contract's types, as the app imports them.
 *
 * Every shape is generated from the server's structs (`generated.ts`, written by
 * `just gen-wire`); this module re-exports them under the names the app uses and adds
 * the few things that are the UI's own. Server frames are discriminated unions on
 * `type`; everything received goes through `schema.ts` before it reaches a store, so
 * the rest of the app can trust these shapes.
 */
import { DURABLE_TYPES, schemas, type DurableEvent, type Member, type ServerEvent } from './generated';

export type {
  AckEvent,
  ClientFrame,
  DurableEvent,
  ErrorEvent,
  History as MessagesPage,
  LoginResult,
  Member,
  MemberAddedEvent,
  MemberRemovedEvent,
  MemberUpdatedEvent,
  Message,
  MessageEvent,
  PongEvent,
  PresenceEvent,
  ReadEvent,
  ReadyEvent,
  ResetEvent,
  Room,
  RoomDeletedEvent,
  RoomUpdatedEvent,
  ServerEvent,
  TypingEvent,
  User,
} from './generated';

// Names for what the protocol's values mean (plain strings and numbers on the wire).
export type Time = string; // RFC 3339 UTC, millisecond precision
export type RoomId = string;
export type MessageId = number;
export type Seq = number;
export type Username = string;
export type Role = Member['role'];

export type ServerEventType = ServerEvent['type'];

const durable: ReadonlySet<string> = new Set(DURABLE_TYPES);

export function isDurable(e: ServerEvent): e is DurableEvent {
  return durable.has(e.type);
}

/** The server's error codes, and the REST client's own two (no answer, an answer we cannot read). */
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

/** The longest message body the server takes (its `send` frame's schema). */
export const MAX_BODY_CHARS: number = schemas.SendFrame.properties.body.maxLength;
/** Usernames as the UI asks for them (the server also lower-cases what it is given). */
export const USERNAME_RE = /^[a-z0-9_]{3,32}$/;
