/**
 * Who is signed in, and what ends a sign-in.
 *
 * Owns boot (GET /me), login, signup, logout, profile changes, and the two
 * ways a session can turn out to be over while the app runs: a 401 from
 * REST or the socket's close 4001. Starting and stopping the live part
 * (outbox, socket, stores) is delegated to `live`, so this module holds no
 * network resources of its own.
 *
 * 4001 policy: a socket closed with 4001 is a logout unless GET /me still
 * works (e.g. the cookie was just refreshed by a password change); then the
 * socket resumes from its cursor. At most MAX_UNAUTHORISED_RESUMES such
 * closes are survived between two `ready`s, so a server that keeps refusing
 * cannot make us loop.
 */
import { ApiError, describeError, type Api } from '../api/http';
import type { Lifetime } from './lifetime';
import type { RoomsStore } from '../store/rooms';
import type { SessionStore } from '../store/session';
import type { User } from '../wire/types';

export const MAX_UNAUTHORISED_RESUMES = 3;
/** After this many failed connection attempts in a row (and every such run after), check the cookie over REST. */
export const BACKOFF_CHECK_EVERY = 3;

export const SESSION_ENDED = 'Your session has ended. Please log in again.';

/** The live part of a sign-in, started and stopped by the session. */
export interface Live {
  /** Tear down whatever is running, then start for `me`. */
  start(me: User): Promise<void>;
  /** Tear down: socket, outbox, timers, every store. */
  stop(): void;
  /** Reconnect the socket that was closed with 4001, keeping its cursor. */
  resume(): void;
}

export interface SessionDeps {
  api: Pick<Api, 'me' | 'login' | 'signup' | 'logout' | 'updateMe' | 'changePassword'>;
  session: SessionStore;
  rooms: RoomsStore;
  lifetime: Lifetime;
  live: Live;
}

export class Session {
  /** 4001 closes survived by a still-valid cookie since the last `ready`. */
  private unauthorisedCloses = 0;

  constructor(private readonly d: SessionDeps) {}

  async boot(): Promise<void> {
    try {
      const me = await this.d.api.me();
      await this.d.live.start(me);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') this.d.session.signedOut();
      else this.d.session.signedOut(describeError(e));
    }
  }

  async login(username: string, password: string): Promise<void> {
    const r = await this.d.api.login(username.trim().toLowerCase(), password);
    await this.d.live.start(r.user);
  }

  async signup(username: string, name: string, password: string): Promise<void> {
    const u = username.trim().toLowerCase();
    await this.d.api.signup(u, name.trim(), password);
    await this.login(u, password);
  }

  async logout(): Promise<void> {
    try {
      await this.d.api.logout();
    } finally {
      this.d.live.stop();
      this.d.session.signedOut();
    }
  }

  /** 401 from REST or an UNAUTHENTICATED error on the socket. */
  expired(): void {
    if (this.d.session.get().status !== 'authenticated') return;
    this.d.live.stop();
    this.d.session.signedOut(SESSION_ENDED);
  }

  /** A `ready` arrived: the server accepts us again. */
  connected(): void {
    this.unauthorisedCloses = 0;
  }

  /** The socket was closed with 4001: resume if the cookie still works, else sign out. */
  async onUnauthorisedClose(): Promise<void> {
    const alive = this.d.lifetime.token();
    try {
      const me = await this.d.api.me();
      if (!alive()) return;
      this.d.session.updateMe(me);
      if (this.unauthorisedCloses++ < MAX_UNAUTHORISED_RESUMES) {
        this.d.live.resume();
        return;
      }
    } catch {
      /* fall through */
    }
    if (alive()) this.expired();
  }

  /**
   * A handshake refused over HTTP (an expired cookie) looks like a network
   * error to the socket, so every few failed attempts ask GET /me.
   */
  async onBackoff(attempt: number): Promise<void> {
    if (attempt % BACKOFF_CHECK_EVERY !== BACKOFF_CHECK_EVERY - 1) return;
    const alive = this.d.lifetime.token();
    try {
      this.d.session.updateMe(await this.d.api.me());
    } catch (e) {
      if (alive() && e instanceof ApiError && e.code === 'UNAUTHENTICATED') this.expired();
    }
  }

  async updateName(name: string): Promise<void> {
    const me = await this.d.api.updateMe(name.trim());
    this.d.session.updateMe(me);
    // Our own member entries carry the name too.
    for (const r of Object.values(this.d.rooms.get().byId)) {
      const m = r.members.find((x) => x.username === me.username);
      if (m) this.d.rooms.upsertMember(r.id, { ...m, name: me.name });
    }
  }

  async changePassword(current: string, next: string): Promise<void> {
    await this.d.api.changePassword(current, next);
  }
}
