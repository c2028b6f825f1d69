/**
 * Our own messages from the moment they are typed until the server has
 * them: optimistic send, the IndexedDB outbox, resends, retries, failures.
 *
 * Invariants:
 * - A message is shown as pending and written to the outbox before the first
 *   send attempt; every resend reuses its `client_msg_id` (the server treats
 *   it idempotently), so it is stored exactly once whatever gets lost.
 * - The outbox entry is deleted only when the server has the message (`ack`,
 *   or our own `message` echo) or has refused it for good.
 * - After every `ready` (and `reset`), `flushOutbox` resends everything still
 *   in the outbox for this user.
 * - RATE_LIMITED / UNAVAILABLE are retried after RETRY_MIN_MS plus up to
 *   RETRY_JITTER_MS; every other error fails the message, and the view
 *   offers retry or discard.
 */
import { newClientMsgId, type Outbox, type OutboxEntry } from '../net/outbox';
import type { Sender } from './link';
import type { Alive } from './lifetime';
import type { MessagesStore, PendingMessage } from '../store/messages';
import { MAX_BODY_CHARS } from '../wire/types';
import type { AckEvent, ErrorEvent, Message, RoomId, Username } from '../wire/types';

export const RETRY_MIN_MS = 1000;
export const RETRY_JITTER_MS = 1000;

export function pendingOf(e: OutboxEntry): PendingMessage {
  return {
    client_msg_id: e.client_msg_id,
    room: e.room,
    sender: e.user,
    body: e.body,
    created_at: e.created_at,
    state: 'pending',
  };
}

/** What the user sees when the server refuses a message for good. */
export function failureText(code: string, message: string): string {
  if (code === 'NOT_FOUND') return 'Not delivered: you are not a member of this room.';
  if (code === 'INVALID_INPUT') return `Not delivered: ${message || 'invalid message'}`;
  if (code === 'CONFLICT') return 'Not delivered: conflicting message id.';
  return `Not delivered: ${message || code}`;
}

export interface SendingDeps {
  link: Sender;
  messages: MessagesStore;
  openOutbox: () => Promise<Outbox>;
  me: () => Username | null;
  /** Sending ends our typing notice in that room. */
  stopTyping: (room: RoomId) => void;
  random?: () => number;
  newId?: () => string;
  now?: () => Date;
}

export class Sending {
  private outbox: Outbox | null = null;
  private retryTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly d: SendingDeps) {}

  /**
   * Open the outbox for a new sign-in and show what it still holds as
   * pending. False if the sign-in ended meanwhile: then nothing is kept
   * (an outbox opened too late is closed) and the caller starts nothing.
   */
  async open(user: Username, alive: Alive): Promise<boolean> {
    const outbox = await this.d.openOutbox();
    if (!alive()) {
      outbox.close();
      return false;
    }
    this.outbox = outbox;
    const entries = await outbox.list(user);
    // A logout while the list was read has closed the outbox already (close()).
    if (!alive()) return false;
    for (const e of entries) this.d.messages.addPending(pendingOf(e));
    return true;
  }

  /** Signed out: close the outbox (its entries stay for the next sign-in) and stop retries. */
  close(): void {
    this.outbox?.close();
    this.outbox = null;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
  }

  /** Optimistic send: shown at once as pending, persisted, sent when possible. */
  async send(room: RoomId, text: string): Promise<string | null> {
    const me = this.d.me();
    const body = text.replace(/\s+$/u, '');
    if (!me || body.trim().length === 0) return null;
    if ([...body].length > MAX_BODY_CHARS) throw new Error(`Messages can be at most ${MAX_BODY_CHARS} characters.`);
    const entry: OutboxEntry = {
      client_msg_id: (this.d.newId ?? newClientMsgId)(),
      user: me,
      room,
      body,
      created_at: (this.d.now?.() ?? new Date()).toISOString(),
    };
    const p = pendingOf(entry);
    this.d.messages.addPending(p);
    this.d.stopTyping(room);
    try {
      await this.outbox?.put(entry);
    } catch {
      /* still sent; only lost if the tab dies before the ack */
    }
    this.trySend(p);
    return entry.client_msg_id;
  }

  async retry(clientMsgId: string): Promise<void> {
    const p = this.d.messages.retryPending(clientMsgId);
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
    this.d.messages.removePending(clientMsgId);
    await this.outbox?.delete(clientMsgId);
  }

  /** Resend everything in the outbox; entries already confirmed are deleted. */
  async flushOutbox(): Promise<void> {
    const me = this.d.me();
    if (!me || !this.outbox) return;
    const entries = await this.outbox.list(me);
    for (const e of entries) {
      this.d.messages.addPending(pendingOf(e));
      const p = this.d.messages.findPending(e.client_msg_id);
      if (p) this.trySend(p);
      else void this.outbox.delete(e.client_msg_id); // already confirmed
    }
  }

  /** The server stored a message of ours: the confirmed message, or null if it is not pending here. */
  acked(ev: AckEvent): Message | null {
    const p = this.d.messages.findPending(ev.client_msg_id);
    void this.outbox?.delete(ev.client_msg_id);
    if (!p) return null;
    return {
      id: ev.id,
      seq: ev.seq,
      room: ev.room,
      sender: this.d.me() ?? '',
      body: p.body,
      client_msg_id: ev.client_msg_id,
      created_at: ev.created_at,
      edited_at: null,
      deleted: false,
      reply_to: null,
      mentions: [],
      reactions: [],
      attachments: [],
    };
  }

  /** Our own message arrived as an event (perhaps sent from another tab): it is delivered. */
  delivered(clientMsgId: string): void {
    void this.outbox?.delete(clientMsgId);
  }

  /** A socket error about one of our pending messages: retry or fail it. False if `ref` is not ours. */
  rejected(ev: ErrorEvent): boolean {
    const p = ev.ref ? this.d.messages.findPending(ev.ref) : null;
    if (!p) return false;
    if (ev.code === 'RATE_LIMITED' || ev.code === 'UNAVAILABLE') {
      const t = setTimeout(
        () => {
          this.retryTimers.delete(t);
          this.trySend(p);
        },
        RETRY_MIN_MS + (this.d.random ?? Math.random)() * RETRY_JITTER_MS,
      );
      this.retryTimers.add(t);
      return true;
    }
    // Permanent: the server will never accept this one as it is.
    void this.outbox?.delete(p.client_msg_id);
    this.d.messages.failPending(p.client_msg_id, failureText(ev.code, ev.message));
    return true;
  }

  private trySend(p: PendingMessage): void {
    if (p.state === 'failed') return;
    this.d.link.send({ type: 'send', room: p.room, client_msg_id: p.client_msg_id, body: p.body });
  }
}
