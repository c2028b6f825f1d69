/**
 * Our own typing notifications. At most one `typing{active:true}` per room
 * per TYPING_THROTTLE_MS (the server keeps it alive for 6 s), and one
 * `active:false` only if an `active:true` went out. Nothing is queued while
 * the socket is down: a typing hint that arrives late is wrong.
 */
import type { Sender } from './link';
import type { RoomId } from '../wire/types';

export const TYPING_THROTTLE_MS = 3000;

export class Typing {
  private sentAt = new Map<RoomId, number>();

  constructor(private readonly link: Sender) {}

  setTyping(room: RoomId, active: boolean, now = Date.now()): void {
    const last = this.sentAt.get(room);
    if (active) {
      if (last !== undefined && now - last < TYPING_THROTTLE_MS) return;
      if (this.link.send({ type: 'typing', room, active: true })) this.sentAt.set(room, now);
    } else {
      if (last === undefined) return;
      this.sentAt.delete(room);
      this.link.send({ type: 'typing', room, active: false });
    }
  }

  reset(): void {
    this.sentAt.clear();
  }
}
