/** Who is logged in. `loading` until GET /api/me answers. */
import { Store } from './store';
import type { User } from '../wire/types';

export type SessionState =
  | { status: 'loading'; me: null; notice: string | null }
  | { status: 'anonymous'; me: null; notice: string | null }
  | { status: 'authenticated'; me: User; notice: string | null };

export class SessionStore extends Store<SessionState> {
  constructor() {
    super({ status: 'loading', me: null, notice: null });
  }
  signedIn(me: User): void {
    this.set({ status: 'authenticated', me, notice: null });
  }
  signedOut(notice: string | null = null): void {
    this.set({ status: 'anonymous', me: null, notice });
  }
  updateMe(me: User): void {
    this.set((s) => (s.status === 'authenticated' ? { ...s, me } : s));
  }
}
