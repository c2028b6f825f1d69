/**
 * Who is typing where. Each remote `typing{active:true}` is remembered for
 * TYPING_TTL_MS and then dropped locally even if `active:false` never comes
 * (the server also expires it after 6 s; this covers a lost socket).
 */
import { listParts, sentenceText, type Part } from '../lib/names';
import { Store } from './store';
import type { RoomId, Username } from '../wire/types';

export const TYPING_TTL_MS = 6000;

export type TypingState = Record<RoomId, Username[]>;

export class TypingStore extends Store<TypingState> {
  private timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor() {
    super({});
  }

  set_(room: RoomId, user: Username, active: boolean): void {
    const key = `${room}\u0000${user}`;
    const t = this.timers.get(key);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(key);
    if (active) {
      this.timers.set(
        key,
        setTimeout(() => this.set_(room, user, false), TYPING_TTL_MS),
      );
    }
    this.set((s) => {
      const list = s[room] ?? [];
      const has = list.includes(user);
      if (active === has) return s;
      const next = active ? [...list, user] : list.filter((u) => u !== user);
      return { ...s, [room]: next };
    });
  }

  clearRoomUser(room: RoomId, user: Username): void {
    this.set_(room, user, false);
  }

  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.set({});
  }
}

/** "Ana is typing…", "Ana and Bo are typing…", "Ana, Bo and 2 others are typing…", names as parts (isolated when rendered). */
export function typingParts(names: string[]): Part[] {
  if (names.length === 0) return [];
  if (names.length === 1) return [{ name: names[0]! }, ' is typing…'];
  if (names.length <= 3) return [...listParts(names), ' are typing…'];
  return [{ name: names[0]! }, ', ', { name: names[1]! }, ` and ${names.length - 2} others are typing…`];
}

export function typingText(names: string[]): string {
  return sentenceText(typingParts(names));
}
