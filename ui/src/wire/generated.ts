// Generated from the server's structs (chatter/wire) by `python -m chatter.wire.gen_ts`: do not edit.
// `just gen-wire` rewrites it; tests/wire/test_generated.py fails when it is out of date.

// ---- REST bodies (chatter/wire/rest.py) ----------------------------------------------------------------------------

export interface User {
  username: string;
  name: string;
  online: boolean;
  last_seen: string | null;
}

export interface Member {
  username: string;
  name: string;
  role: 'admin' | 'member' | 'owner';
  read_up_to: number;
}

/** A message as it is now: edited body, or a tombstone (`deleted`, body "", no mentions or reactions). */
export interface Message {
  id: number;
  seq: number;
  room: string;
  sender: string;
  body: string;
  client_msg_id: string;
  /** RFC 3339 UTC with milliseconds */
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
  reply_to: number | null;
  mentions: string[];
  reactions: Reaction[];
  attachments: File[];
}

export interface Room {
  id: string;
  kind: 'dm' | 'group';
  name: string;
  members: Member[];
  last_message: Message | null;
  unread: number;
  /** RFC 3339 UTC with milliseconds */
  created_at: string;
  mentions: number;
}

export interface UserEnvelope {
  user: User;
}

export interface LoginResult {
  user: User;
  token: string;
  /** RFC 3339 UTC with milliseconds */
  expires_at: string;
}

export interface UserList {
  users: User[];
}

export interface RoomList {
  rooms: Room[];
}

export interface History {
  messages: Message[];
  has_more: boolean;
}

/** `GET /api/events`: the durable events after `since`, as the socket would have sent them. */
export interface Events {
  epoch: string;
  events: (MessageEvent | ReadEvent | MemberAddedEvent | MemberRemovedEvent | MemberUpdatedEvent | RoomUpdatedEvent | RoomDeletedEvent | MessageUpdatedEvent | MessageDeletedEvent | ReactionEvent)[];
  next: number;
  has_more: boolean;
}

export interface Health {
  status: string;
}

export interface Error {
  error: ErrorBody;
}

export interface Register {
  username: string;
  /** no control, bidirectional or invisible format characters; not blank */
  name: string;
  /** any Unicode; the most common passwords are refused (400) */
  password: string;
}

export interface Login {
  username: string;
  password: string;
}

export interface Rename {
  /** no control, bidirectional or invisible format characters; not blank */
  name: string;
}

export interface ChangePassword {
  current: string;
  /** any Unicode; the most common passwords are refused (400) */
  new: string;
}

export interface ResetPassword {
  /** the text after # in the reset link */
  token: string;
  /** any Unicode; the most common passwords are refused (400) */
  new: string;
}

export interface UserSearch {
  q?: string;
}

export interface CreateRoom {
  /** no control, bidirectional or invisible format characters; not blank */
  name: string;
  members?: string[];
}

export interface OpenDm {
  username: string;
}

export interface RenameRoom {
  /** no control, bidirectional or invisible format characters; not blank */
  name: string;
}

export interface AddMember {
  username: string;
  role?: 'admin' | 'member';
}

export interface SetRole {
  role: 'admin' | 'member' | 'owner';
}

export interface HistoryQuery {
  before?: number | null;
  limit?: number;
}

export interface PostMessage {
  client_msg_id: string;
  /** not blank, no NUL; trailing whitespace is trimmed */
  body: string;
}

export interface MarkRead {
  up_to: number;
}

export interface EventsQuery {
  since?: number;
  limit?: number;
}

/** One emoji on a message and who reacted with it, in the order they did. */
export interface Reaction {
  emoji: string;
  users: string[];
}

/** An uploaded file (PROTOCOL section 12); no message carries one yet. */
export interface File {
  id: string;
  name: string;
  size: number;
  content_type: string;
  width: number | null;
  height: number | null;
}

/** `GET /rooms/{id}/messages?around=`: the message with up to `limit`/2 on each side. */
export interface HistoryAround {
  messages: Message[];
  has_more_before: boolean;
  has_more_after: boolean;
}

/** `GET /mentions`: the newest messages that mention you, in ascending id order (like `History`). */
export interface MentionList {
  messages: Message[];
  has_more: boolean;
}

export interface EditMessage {
  /** not blank, no NUL; trailing whitespace is trimmed */
  body: string;
}

export interface MentionsQuery {
  before?: number | null;
  limit?: number;
}

/** `GET /rooms/{id}/messages?around=`: instead of `before`, a message and its context. */
export interface AroundQuery {
  around: number;
  limit?: number;
}

/** One match: the message as it is now, and the matched part of its body as plain-text pieces. */
export interface SearchResult {
  message: Message;
  snippet: ((string | boolean)[])[];
}

/** `GET /search`: newest first; `next` pages on (null: no more); `indexing`: older matches may be missing. */
export interface SearchResults {
  results: SearchResult[];
  next: string | null;
  indexing: boolean;
}

/** `GET /search`: words, "phrases" and the filters from:, in:#room, before:, after: (docs/PROTOCOL.md 5.9). */
export interface SearchQuery {
  q: string;
  room?: string | null;
  from?: string | null;
  before?: string | null;
  after?: string | null;
  limit?: number;
  cursor?: string | null;
}

export interface ErrorBody {
  code: string;
  message: string;
}

// ---- Socket frames (chatter/wire/socket.py) ------------------------------------------------------------------------

/** Must be the first frame. With `since` (and the `epoch` it belongs to) the socket resumes. */
export interface HelloFrame {
  type: 'hello';
  since?: number | null;
  epoch?: string | null;
}

/** Post a message; answered by `ack` once it is committed (idempotent per `client_msg_id`). */
export interface SendFrame {
  type: 'send';
  /** room id */
  room: string;
  client_msg_id: string;
  /** not blank, no NUL; trailing whitespace is trimmed */
  body: string;
  reply_to?: number | null;
}

export interface TypingFrame {
  type: 'typing';
  /** room id */
  room: string;
  active: boolean;
}

/** Move your read cursor forward to `up_to` (clamped to the newest message). */
export interface ReadFrame {
  type: 'read';
  /** room id */
  room: string;
  up_to: number;
}

/** Answered by `pong`. */
export interface PingFrame {
  type: 'ping';
}

/** Change the body of your message; answered by the durable `message_updated` (nothing if unchanged). */
export interface EditFrame {
  type: 'edit';
  /** room id */
  room: string;
  id: number;
  /** not blank, no NUL; trailing whitespace is trimmed */
  body: string;
}

/** Delete a message (yours, or any as the room's owner or an admin); answered by `message_deleted`. */
export interface DeleteFrame {
  type: 'delete';
  /** room id */
  room: string;
  id: number;
}

/** Add (`on`) or remove your reaction; answered by `reaction` (nothing if already so). */
export interface ReactFrame {
  type: 'react';
  /** room id */
  room: string;
  id: number;
  /** exactly one emoji */
  emoji: string;
  on: boolean;
}

/** The answer to `hello`: the database's epoch and head, you, and who of your contacts is online. */
export interface ReadyEvent {
  type: 'ready';
  epoch: string;
  seq: number;
  user: User;
  online: string[];
}

/** Your `send` is committed (also the answer to a repeated `send`: the original's id and seq). */
export interface AckEvent {
  type: 'ack';
  client_msg_id: string;
  id: number;
  seq: number;
  room: string;
  /** RFC 3339 UTC with milliseconds */
  created_at: string;
}

/** A new message: all of `Message`.  Stored as sent; a deleted message's is rewritten as its tombstone. */
export interface MessageEvent {
  type: 'message';
  seq: number;
  id: number;
  room: string;
  sender: string;
  body: string;
  client_msg_id: string;
  /** RFC 3339 UTC with milliseconds */
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
  reply_to: number | null;
  mentions: string[];
  reactions: Reaction[];
  attachments: File[];
}

export interface ReadEvent {
  type: 'read';
  seq: number;
  room: string;
  user: string;
  up_to: number;
}

/** Also about yourself (a room you were added to); `name` is the member's, `room_name` the room's. */
export interface MemberAddedEvent {
  type: 'member_added';
  seq: number;
  room: string;
  username: string;
  role: 'admin' | 'member' | 'owner';
  name: string;
  room_name: string;
  kind: 'dm' | 'group';
}

export interface MemberRemovedEvent {
  type: 'member_removed';
  seq: number;
  room: string;
  username: string;
}

/** A member's role changed (also both sides of an ownership transfer). */
export interface MemberUpdatedEvent {
  type: 'member_updated';
  seq: number;
  room: string;
  username: string;
  role: 'admin' | 'member' | 'owner';
}

export interface RoomUpdatedEvent {
  type: 'room_updated';
  seq: number;
  room: string;
  id: string;
  kind: 'dm' | 'group';
  name: string;
  /** RFC 3339 UTC with milliseconds */
  created_at: string;
}

export interface RoomDeletedEvent {
  type: 'room_deleted';
  seq: number;
  room: string;
}

/** A message's body was edited; `mentions` are recomputed from it. */
export interface MessageUpdatedEvent {
  type: 'message_updated';
  seq: number;
  room: string;
  id: number;
  body: string;
  /** RFC 3339 UTC with milliseconds */
  edited_at: string;
  mentions: string[];
}

/** The message is now a tombstone: body "", no mentions, reactions or attachments. */
export interface MessageDeletedEvent {
  type: 'message_deleted';
  seq: number;
  room: string;
  id: number;
}

/** `user` added (`on`) or removed their `emoji` on message `id`. */
export interface ReactionEvent {
  type: 'reaction';
  seq: number;
  room: string;
  id: number;
  emoji: string;
  user: string;
  on: boolean;
}

export interface TypingEvent {
  type: 'typing';
  room: string;
  user: string;
  active: boolean;
}

export interface PresenceEvent {
  type: 'presence';
  user: string;
  online: boolean;
  last_seen: string | null;
}

/** Drop every cache, reload over REST and carry on from `seq`. */
export interface ResetEvent {
  type: 'reset';
  epoch: string;
  seq: number;
}

/** A refused frame. `ref`: the `client_msg_id` of a `send` when valid, else the frame's type. */
export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  ref: string | null;
}

/** The answer to `ping`. */
export interface PongEvent {
  type: 'pong';
}

export type ClientFrame =
  | HelloFrame
  | SendFrame
  | TypingFrame
  | ReadFrame
  | PingFrame
  | EditFrame
  | DeleteFrame
  | ReactFrame;

export type ServerEvent =
  | ReadyEvent
  | AckEvent
  | MessageEvent
  | ReadEvent
  | MemberAddedEvent
  | MemberRemovedEvent
  | MemberUpdatedEvent
  | RoomUpdatedEvent
  | RoomDeletedEvent
  | MessageUpdatedEvent
  | MessageDeletedEvent
  | ReactionEvent
  | TypingEvent
  | PresenceEvent
  | ResetEvent
  | ErrorEvent
  | PongEvent;

/** Durable events: stored, with a `seq`, served again on resume. */
export type DurableEvent =
  | MessageEvent
  | ReadEvent
  | MemberAddedEvent
  | MemberRemovedEvent
  | MemberUpdatedEvent
  | RoomUpdatedEvent
  | RoomDeletedEvent
  | MessageUpdatedEvent
  | MessageDeletedEvent
  | ReactionEvent;
export const DURABLE_TYPES: readonly DurableEvent['type'][] = ['member_added', 'member_removed', 'member_updated', 'message', 'message_deleted', 'message_updated', 'reaction', 'read', 'room_deleted', 'room_updated'];

/** Schema name -> its type, for `parse` in schema.ts. */
export interface WireTypes {
  AckEvent: AckEvent;
  Error: Error;
  ErrorBody: ErrorBody;
  ErrorEvent: ErrorEvent;
  Events: Events;
  File: File;
  Health: Health;
  History: History;
  HistoryAround: HistoryAround;
  LoginResult: LoginResult;
  Member: Member;
  MemberAddedEvent: MemberAddedEvent;
  MemberRemovedEvent: MemberRemovedEvent;
  MemberUpdatedEvent: MemberUpdatedEvent;
  MentionList: MentionList;
  Message: Message;
  MessageDeletedEvent: MessageDeletedEvent;
  MessageEvent: MessageEvent;
  MessageUpdatedEvent: MessageUpdatedEvent;
  PongEvent: PongEvent;
  PresenceEvent: PresenceEvent;
  Reaction: Reaction;
  ReactionEvent: ReactionEvent;
  ReadEvent: ReadEvent;
  ReadyEvent: ReadyEvent;
  ResetEvent: ResetEvent;
  Room: Room;
  RoomDeletedEvent: RoomDeletedEvent;
  RoomList: RoomList;
  RoomUpdatedEvent: RoomUpdatedEvent;
  SearchResult: SearchResult;
  SearchResults: SearchResults;
  SendFrame: SendFrame;
  ServerEvent: ServerEvent;
  TypingEvent: TypingEvent;
  User: User;
  UserEnvelope: UserEnvelope;
  UserList: UserList;
}

/** JSON Schema (msgspec.json.schema_components) of everything the UI validates on receipt. */
export const schemas = {
  "AckEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "ack"
        ]
      },
      "client_msg_id": {
        "type": "string"
      },
      "id": {
        "type": "integer",
        "minimum": 1
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "created_at": {
        "type": "string"
      }
    },
    "required": [
      "type",
      "client_msg_id",
      "id",
      "seq",
      "room",
      "created_at"
    ]
  },
  "Error": {
    "type": "object",
    "properties": {
      "error": {
        "$ref": "#/components/schemas/ErrorBody"
      }
    },
    "required": [
      "error"
    ]
  },
  "ErrorBody": {
    "type": "object",
    "properties": {
      "code": {
        "type": "string"
      },
      "message": {
        "type": "string"
      }
    },
    "required": [
      "code",
      "message"
    ]
  },
  "ErrorEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "error"
        ]
      },
      "code": {
        "type": "string"
      },
      "message": {
        "type": "string"
      },
      "ref": {
        "anyOf": [
          {
            "type": "string"
          },
          {
            "type": "null"
          }
        ]
      }
    },
    "required": [
      "type",
      "code",
      "message",
      "ref"
    ]
  },
  "Events": {
    "type": "object",
    "properties": {
      "epoch": {
        "type": "string"
      },
      "events": {
        "type": "array",
        "items": {
          "anyOf": [
            {
              "$ref": "#/components/schemas/MessageEvent"
            },
            {
              "$ref": "#/components/schemas/ReadEvent"
            },
            {
              "$ref": "#/components/schemas/MemberAddedEvent"
            },
            {
              "$ref": "#/components/schemas/MemberRemovedEvent"
            },
            {
              "$ref": "#/components/schemas/MemberUpdatedEvent"
            },
            {
              "$ref": "#/components/schemas/RoomUpdatedEvent"
            },
            {
              "$ref": "#/components/schemas/RoomDeletedEvent"
            },
            {
              "$ref": "#/components/schemas/MessageUpdatedEvent"
            },
            {
              "$ref": "#/components/schemas/MessageDeletedEvent"
            },
            {
              "$ref": "#/components/schemas/ReactionEvent"
            }
          ],
          "discriminator": {
            "propertyName": "type",
            "mapping": {
              "message": "#/components/schemas/MessageEvent",
              "read": "#/components/schemas/ReadEvent",
              "member_added": "#/components/schemas/MemberAddedEvent",
              "member_removed": "#/components/schemas/MemberRemovedEvent",
              "member_updated": "#/components/schemas/MemberUpdatedEvent",
              "room_updated": "#/components/schemas/RoomUpdatedEvent",
              "room_deleted": "#/components/schemas/RoomDeletedEvent",
              "message_updated": "#/components/schemas/MessageUpdatedEvent",
              "message_deleted": "#/components/schemas/MessageDeletedEvent",
              "reaction": "#/components/schemas/ReactionEvent"
            }
          }
        }
      },
      "next": {
        "type": "integer",
        "minimum": 0
      },
      "has_more": {
        "type": "boolean"
      }
    },
    "required": [
      "epoch",
      "events",
      "next",
      "has_more"
    ]
  },
  "File": {
    "type": "object",
    "properties": {
      "id": {
        "type": "string"
      },
      "name": {
        "type": "string"
      },
      "size": {
        "type": "integer",
        "minimum": 0
      },
      "content_type": {
        "type": "string"
      },
      "width": {
        "anyOf": [
          {
            "type": "integer",
            "minimum": 0
          },
          {
            "type": "null"
          }
        ]
      },
      "height": {
        "anyOf": [
          {
            "type": "integer",
            "minimum": 0
          },
          {
            "type": "null"
          }
        ]
      }
    },
    "required": [
      "id",
      "name",
      "size",
      "content_type",
      "width",
      "height"
    ]
  },
  "Health": {
    "type": "object",
    "properties": {
      "status": {
        "type": "string"
      }
    },
    "required": [
      "status"
    ]
  },
  "History": {
    "type": "object",
    "properties": {
      "messages": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/Message"
        }
      },
      "has_more": {
        "type": "boolean"
      }
    },
    "required": [
      "messages",
      "has_more"
    ]
  },
  "HistoryAround": {
    "type": "object",
    "properties": {
      "messages": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/Message"
        }
      },
      "has_more_before": {
        "type": "boolean"
      },
      "has_more_after": {
        "type": "boolean"
      }
    },
    "required": [
      "messages",
      "has_more_before",
      "has_more_after"
    ]
  },
  "LoginResult": {
    "type": "object",
    "properties": {
      "user": {
        "$ref": "#/components/schemas/User"
      },
      "token": {
        "type": "string"
      },
      "expires_at": {
        "type": "string"
      }
    },
    "required": [
      "user",
      "token",
      "expires_at"
    ]
  },
  "Member": {
    "type": "object",
    "properties": {
      "username": {
        "type": "string"
      },
      "name": {
        "type": "string"
      },
      "role": {
        "enum": [
          "admin",
          "member",
          "owner"
        ]
      },
      "read_up_to": {
        "type": "integer",
        "minimum": 0
      }
    },
    "required": [
      "username",
      "name",
      "role",
      "read_up_to"
    ]
  },
  "MemberAddedEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "member_added"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "username": {
        "type": "string"
      },
      "role": {
        "enum": [
          "admin",
          "member",
          "owner"
        ]
      },
      "name": {
        "type": "string"
      },
      "room_name": {
        "type": "string"
      },
      "kind": {
        "enum": [
          "dm",
          "group"
        ]
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "username",
      "role",
      "name",
      "room_name",
      "kind"
    ]
  },
  "MemberRemovedEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "member_removed"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "username": {
        "type": "string"
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "username"
    ]
  },
  "MemberUpdatedEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "member_updated"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "username": {
        "type": "string"
      },
      "role": {
        "enum": [
          "admin",
          "member",
          "owner"
        ]
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "username",
      "role"
    ]
  },
  "MentionList": {
    "type": "object",
    "properties": {
      "messages": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/Message"
        }
      },
      "has_more": {
        "type": "boolean"
      }
    },
    "required": [
      "messages",
      "has_more"
    ]
  },
  "Message": {
    "type": "object",
    "properties": {
      "id": {
        "type": "integer",
        "minimum": 1
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "sender": {
        "type": "string"
      },
      "body": {
        "type": "string"
      },
      "client_msg_id": {
        "type": "string"
      },
      "created_at": {
        "type": "string"
      },
      "edited_at": {
        "anyOf": [
          {
            "type": "string"
          },
          {
            "type": "null"
          }
        ]
      },
      "deleted": {
        "type": "boolean"
      },
      "reply_to": {
        "anyOf": [
          {
            "type": "integer",
            "minimum": 1
          },
          {
            "type": "null"
          }
        ]
      },
      "mentions": {
        "type": "array",
        "items": {
          "type": "string"
        }
      },
      "reactions": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/Reaction"
        }
      },
      "attachments": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/File"
        }
      }
    },
    "required": [
      "id",
      "seq",
      "room",
      "sender",
      "body",
      "client_msg_id",
      "created_at",
      "edited_at",
      "deleted",
      "reply_to",
      "mentions",
      "reactions",
      "attachments"
    ]
  },
  "MessageDeletedEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "message_deleted"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "id": {
        "type": "integer",
        "minimum": 1
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "id"
    ]
  },
  "MessageEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "message"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "id": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "sender": {
        "type": "string"
      },
      "body": {
        "type": "string"
      },
      "client_msg_id": {
        "type": "string"
      },
      "created_at": {
        "type": "string"
      },
      "edited_at": {
        "anyOf": [
          {
            "type": "string"
          },
          {
            "type": "null"
          }
        ]
      },
      "deleted": {
        "type": "boolean"
      },
      "reply_to": {
        "anyOf": [
          {
            "type": "integer",
            "minimum": 1
          },
          {
            "type": "null"
          }
        ]
      },
      "mentions": {
        "type": "array",
        "items": {
          "type": "string"
        }
      },
      "reactions": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/Reaction"
        }
      },
      "attachments": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/File"
        }
      }
    },
    "required": [
      "type",
      "seq",
      "id",
      "room",
      "sender",
      "body",
      "client_msg_id",
      "created_at",
      "edited_at",
      "deleted",
      "reply_to",
      "mentions",
      "reactions",
      "attachments"
    ]
  },
  "MessageUpdatedEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "message_updated"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "id": {
        "type": "integer",
        "minimum": 1
      },
      "body": {
        "type": "string"
      },
      "edited_at": {
        "type": "string"
      },
      "mentions": {
        "type": "array",
        "items": {
          "type": "string"
        }
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "id",
      "body",
      "edited_at",
      "mentions"
    ]
  },
  "PongEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "pong"
        ]
      }
    },
    "required": [
      "type"
    ]
  },
  "PresenceEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "presence"
        ]
      },
      "user": {
        "type": "string"
      },
      "online": {
        "type": "boolean"
      },
      "last_seen": {
        "anyOf": [
          {
            "type": "string"
          },
          {
            "type": "null"
          }
        ]
      }
    },
    "required": [
      "type",
      "user",
      "online",
      "last_seen"
    ]
  },
  "Reaction": {
    "type": "object",
    "properties": {
      "emoji": {
        "type": "string"
      },
      "users": {
        "type": "array",
        "items": {
          "type": "string"
        }
      }
    },
    "required": [
      "emoji",
      "users"
    ]
  },
  "ReactionEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "reaction"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "id": {
        "type": "integer",
        "minimum": 1
      },
      "emoji": {
        "type": "string"
      },
      "user": {
        "type": "string"
      },
      "on": {
        "type": "boolean"
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "id",
      "emoji",
      "user",
      "on"
    ]
  },
  "ReadEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "read"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "user": {
        "type": "string"
      },
      "up_to": {
        "type": "integer",
        "minimum": 0
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "user",
      "up_to"
    ]
  },
  "ReadyEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "ready"
        ]
      },
      "epoch": {
        "type": "string"
      },
      "seq": {
        "type": "integer",
        "minimum": 0
      },
      "user": {
        "$ref": "#/components/schemas/User"
      },
      "online": {
        "type": "array",
        "items": {
          "type": "string"
        }
      }
    },
    "required": [
      "type",
      "epoch",
      "seq",
      "user",
      "online"
    ]
  },
  "ResetEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "reset"
        ]
      },
      "epoch": {
        "type": "string"
      },
      "seq": {
        "type": "integer",
        "minimum": 0
      }
    },
    "required": [
      "type",
      "epoch",
      "seq"
    ]
  },
  "Room": {
    "type": "object",
    "properties": {
      "id": {
        "type": "string"
      },
      "kind": {
        "enum": [
          "dm",
          "group"
        ]
      },
      "name": {
        "type": "string"
      },
      "members": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/Member"
        }
      },
      "last_message": {
        "anyOf": [
          {
            "$ref": "#/components/schemas/Message"
          },
          {
            "type": "null"
          }
        ]
      },
      "unread": {
        "type": "integer",
        "minimum": 0
      },
      "created_at": {
        "type": "string"
      },
      "mentions": {
        "type": "integer",
        "minimum": 0
      }
    },
    "required": [
      "id",
      "kind",
      "name",
      "members",
      "last_message",
      "unread",
      "created_at",
      "mentions"
    ]
  },
  "RoomDeletedEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "room_deleted"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      }
    },
    "required": [
      "type",
      "seq",
      "room"
    ]
  },
  "RoomList": {
    "type": "object",
    "properties": {
      "rooms": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/Room"
        }
      }
    },
    "required": [
      "rooms"
    ]
  },
  "RoomUpdatedEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "room_updated"
        ]
      },
      "seq": {
        "type": "integer",
        "minimum": 1
      },
      "room": {
        "type": "string"
      },
      "id": {
        "type": "string"
      },
      "kind": {
        "enum": [
          "dm",
          "group"
        ]
      },
      "name": {
        "type": "string"
      },
      "created_at": {
        "type": "string"
      }
    },
    "required": [
      "type",
      "seq",
      "room",
      "id",
      "kind",
      "name",
      "created_at"
    ]
  },
  "SearchResult": {
    "type": "object",
    "properties": {
      "message": {
        "$ref": "#/components/schemas/Message"
      },
      "snippet": {
        "type": "array",
        "items": {
          "type": "array",
          "items": {
            "anyOf": [
              {
                "type": "string"
              },
              {
                "type": "boolean"
              }
            ]
          },
          "maxItems": 2,
          "minItems": 2
        }
      }
    },
    "required": [
      "message",
      "snippet"
    ]
  },
  "SearchResults": {
    "type": "object",
    "properties": {
      "results": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/SearchResult"
        }
      },
      "next": {
        "anyOf": [
          {
            "type": "string"
          },
          {
            "type": "null"
          }
        ]
      },
      "indexing": {
        "type": "boolean"
      }
    },
    "required": [
      "results",
      "next",
      "indexing"
    ]
  },
  "SendFrame": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "send"
        ]
      },
      "room": {
        "type": "string",
        "maxLength": 64,
        "minLength": 1
      },
      "client_msg_id": {
        "type": "string",
        "maxLength": 64,
        "minLength": 1
      },
      "body": {
        "type": "string",
        "maxLength": 4000,
        "minLength": 1,
        "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
      },
      "reply_to": {
        "anyOf": [
          {
            "type": "integer",
            "minimum": 1
          },
          {
            "type": "null"
          }
        ]
      }
    },
    "required": [
      "type",
      "room",
      "client_msg_id",
      "body"
    ]
  },
  "ServerEvent": {
    "anyOf": [
      {
        "$ref": "#/components/schemas/ReadyEvent"
      },
      {
        "$ref": "#/components/schemas/AckEvent"
      },
      {
        "$ref": "#/components/schemas/MessageEvent"
      },
      {
        "$ref": "#/components/schemas/ReadEvent"
      },
      {
        "$ref": "#/components/schemas/MemberAddedEvent"
      },
      {
        "$ref": "#/components/schemas/MemberRemovedEvent"
      },
      {
        "$ref": "#/components/schemas/MemberUpdatedEvent"
      },
      {
        "$ref": "#/components/schemas/RoomUpdatedEvent"
      },
      {
        "$ref": "#/components/schemas/RoomDeletedEvent"
      },
      {
        "$ref": "#/components/schemas/MessageUpdatedEvent"
      },
      {
        "$ref": "#/components/schemas/MessageDeletedEvent"
      },
      {
        "$ref": "#/components/schemas/ReactionEvent"
      },
      {
        "$ref": "#/components/schemas/TypingEvent"
      },
      {
        "$ref": "#/components/schemas/PresenceEvent"
      },
      {
        "$ref": "#/components/schemas/ResetEvent"
      },
      {
        "$ref": "#/components/schemas/ErrorEvent"
      },
      {
        "$ref": "#/components/schemas/PongEvent"
      }
    ],
    "discriminator": {
      "propertyName": "type",
      "mapping": {
        "ready": "#/components/schemas/ReadyEvent",
        "ack": "#/components/schemas/AckEvent",
        "message": "#/components/schemas/MessageEvent",
        "read": "#/components/schemas/ReadEvent",
        "member_added": "#/components/schemas/MemberAddedEvent",
        "member_removed": "#/components/schemas/MemberRemovedEvent",
        "member_updated": "#/components/schemas/MemberUpdatedEvent",
        "room_updated": "#/components/schemas/RoomUpdatedEvent",
        "room_deleted": "#/components/schemas/RoomDeletedEvent",
        "message_updated": "#/components/schemas/MessageUpdatedEvent",
        "message_deleted": "#/components/schemas/MessageDeletedEvent",
        "reaction": "#/components/schemas/ReactionEvent",
        "typing": "#/components/schemas/TypingEvent",
        "presence": "#/components/schemas/PresenceEvent",
        "reset": "#/components/schemas/ResetEvent",
        "error": "#/components/schemas/ErrorEvent",
        "pong": "#/components/schemas/PongEvent"
      }
    }
  },
  "TypingEvent": {
    "type": "object",
    "properties": {
      "type": {
        "enum": [
          "typing"
        ]
      },
      "room": {
        "type": "string"
      },
      "user": {
        "type": "string"
      },
      "active": {
        "type": "boolean"
      }
    },
    "required": [
      "type",
      "room",
      "user",
      "active"
    ]
  },
  "User": {
    "type": "object",
    "properties": {
      "username": {
        "type": "string"
      },
      "name": {
        "type": "string"
      },
      "online": {
        "type": "boolean"
      },
      "last_seen": {
        "anyOf": [
          {
            "type": "string"
          },
          {
            "type": "null"
          }
        ]
      }
    },
    "required": [
      "username",
      "name",
      "online",
      "last_seen"
    ]
  },
  "UserEnvelope": {
    "type": "object",
    "properties": {
      "user": {
        "$ref": "#/components/schemas/User"
      }
    },
    "required": [
      "user"
    ]
  },
  "UserList": {
    "type": "object",
    "properties": {
      "users": {
        "type": "array",
        "items": {
          "$ref": "#/components/schemas/User"
        }
      }
    },
    "required": [
      "users"
    ]
  }
} as const;
