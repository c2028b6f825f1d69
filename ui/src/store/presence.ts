/** Online state and last-seen times of users who share a room with us. */
import { Store } from './store';
import type { Time, User, Username } from '../wire/types';

export interface PresenceInfo {
  online: boolean;
  last_seen: Time | null;
}
export type PresenceState = Record<Username, PresenceInfo>;

export class PresenceStore extends Store<PresenceState> {
  constructor() {
    super({});
  }

  /** `ready.online`: everyone listed is online, everyone else we know is not. */
  setOnlineList(online: Username[]): void {
    this.set((s) => {
      const next: PresenceState = {};
      for (const [u, info] of Object.entries(s)) next[u] = { ...info, online: false };
      for (const u of online) next[u] = { online: true, last_seen: s[u]?.last_seen ?? null };
      return next;
    });
  }

  update(user: Username, online: boolean, lastSeen: Time | null): void {
    this.set((s) => {
      const prev = s[user];
      const last_seen = lastSeen ?? prev?.last_seen ?? null;
      if (prev && prev.online === online && prev.last_seen === last_seen) return s;
      return { ...s, [user]: { online, last_seen } };
    });
  }

  /** A user object fetched over REST carries presence too; do not override live online state. */
  learn(u: User): void {
    this.set((s) => {
      const prev = s[u.username];
      if (prev) {
        if (prev.last_seen || !u.last_seen) return s;
        return { ...s, [u.username]: { ...prev, last_seen: u.last_seen } };
      }
      return { ...s, [u.username]: { online: u.online, last_seen: u.last_seen } };
    });
  }

  clear(): void {
    this.set({});
  }
}
