import { describe, expect, it, vi } from 'vitest';
import { ApiError, type Api } from '../../src/api/http';
import { Lifetime } from '../../src/app/lifetime';
import { MAX_UNAUTHORISED_RESUMES, Session, SESSION_ENDED, type Live } from '../../src/app/session';
import { RoomsStore } from '../../src/store/rooms';
import { SessionStore } from '../../src/store/session';
import { deferred, room, user } from './fakes';

const unauthenticated = () => new ApiError(401, 'UNAUTHENTICATED', 'no');

function setup() {
  const session = new SessionStore();
  const rooms = new RoomsStore();
  const lifetime = new Lifetime();
  const api = {
    me: vi.fn<Api['me']>(async () => user('ana', 'Ana')),
    login: vi.fn<Api['login']>(async (u) => ({ user: user(u), token: 't', expires_at: 'x' })),
    signup: vi.fn<Api['signup']>(async (u, n) => user(u, n)),
    logout: vi.fn<Api['logout']>(async () => {}),
    updateMe: vi.fn<Api['updateMe']>(async (name) => user('ana', name)),
    changePassword: vi.fn<Api['changePassword']>(async () => {}),
  };
  const live = {
    start: vi.fn<Live['start']>(async (me) => {
      lifetime.begin();
      session.signedIn(me);
    }),
    stop: vi.fn<Live['stop']>(() => lifetime.end()),
    resume: vi.fn<Live['resume']>(),
  };
  return { session, rooms, lifetime, api, live, s: new Session({ api, session, rooms, lifetime, live }) };
}

describe('Session: signing in and out', () => {
  it('boot starts the live part for the user GET /me returns', async () => {
    const { s, live, session } = setup();
    await s.boot();
    expect(live.start).toHaveBeenCalledWith(user('ana', 'Ana'));
    expect(session.get().status).toBe('authenticated');
  });

  it('boot without a session shows the login screen quietly; any other failure says why', async () => {
    const a = setup();
    a.api.me.mockRejectedValueOnce(unauthenticated());
    await a.s.boot();
    expect(a.session.get()).toEqual({ status: 'anonymous', me: null, notice: null });
    const b = setup();
    b.api.me.mockRejectedValueOnce(new ApiError(0, 'NETWORK', 'Cannot reach the server.'));
    await b.s.boot();
    expect(b.session.get()).toEqual({ status: 'anonymous', me: null, notice: 'Cannot reach the server.' });
    expect(b.live.start).not.toHaveBeenCalled();
  });

  it('login trims and lower-cases the username; signup trims the name and then logs in', async () => {
    const { s, api, live } = setup();
    await s.login('  Ana ', 'pw');
    expect(api.login).toHaveBeenCalledWith('ana', 'pw');
    await s.signup(' Bo ', '  Bo B ', 'secret99');
    expect(api.signup).toHaveBeenCalledWith('bo', 'Bo B', 'secret99');
    expect(api.login).toHaveBeenLastCalledWith('bo', 'secret99');
    expect(live.start).toHaveBeenCalledTimes(2);
  });

  it('a refused login starts nothing and rejects', async () => {
    const { s, api, live } = setup();
    api.login.mockRejectedValueOnce(unauthenticated());
    await expect(s.login('ana', 'bad')).rejects.toThrow(ApiError);
    expect(live.start).not.toHaveBeenCalled();
  });

  it('logout stops the live part and signs out even when the request fails', async () => {
    const { s, api, live, session } = setup();
    await s.boot();
    api.logout.mockRejectedValueOnce(new ApiError(0, 'NETWORK', 'down'));
    await expect(s.logout()).rejects.toThrow('down');
    expect(live.stop).toHaveBeenCalledTimes(1);
    expect(session.get()).toEqual({ status: 'anonymous', me: null, notice: null });
  });

  it('expired signs out with a notice, once, and only when signed in', async () => {
    const { s, live, session } = setup();
    s.expired();
    expect(live.stop).not.toHaveBeenCalled();
    await s.boot();
    s.expired();
    s.expired();
    expect(live.stop).toHaveBeenCalledTimes(1);
    expect(session.get().notice).toBe(SESSION_ENDED);
  });
});

describe('Session: close 4001', () => {
  it('resumes the socket while the cookie still works, a bounded number of times between readys', async () => {
    const { s, live, session } = setup();
    await s.boot();
    for (let i = 0; i < MAX_UNAUTHORISED_RESUMES; i++) await s.onUnauthorisedClose();
    expect(live.resume).toHaveBeenCalledTimes(MAX_UNAUTHORISED_RESUMES);
    await s.onUnauthorisedClose();
    expect(live.resume).toHaveBeenCalledTimes(MAX_UNAUTHORISED_RESUMES);
    expect(session.get().status).toBe('anonymous');
  });

  it('a ready in between resets the bound', async () => {
    const { s, live, session } = setup();
    await s.boot();
    for (let i = 0; i < MAX_UNAUTHORISED_RESUMES * 2; i++) {
      await s.onUnauthorisedClose();
      s.connected();
    }
    expect(live.resume).toHaveBeenCalledTimes(MAX_UNAUTHORISED_RESUMES * 2);
    expect(session.get().status).toBe('authenticated');
  });

  it('signs out when the cookie no longer works', async () => {
    const { s, api, live, session } = setup();
    await s.boot();
    api.me.mockRejectedValueOnce(unauthenticated());
    await s.onUnauthorisedClose();
    expect(live.resume).not.toHaveBeenCalled();
    expect(session.get().notice).toBe(SESSION_ENDED);
  });

  it('an answer that arrives after a logout changes nothing', async () => {
    const { s, api, live, session } = setup();
    await s.boot();
    const me = deferred<ReturnType<typeof user>>();
    api.me.mockImplementationOnce(() => me.promise);
    const check = s.onUnauthorisedClose();
    await s.logout();
    me.resolve(user('ana', 'Renamed'));
    await check;
    expect(live.resume).not.toHaveBeenCalled();
    expect(session.get()).toEqual({ status: 'anonymous', me: null, notice: null });
  });
});

describe('Session: backoff check', () => {
  it('asks GET /me on every third failed attempt and signs out on 401', async () => {
    const { s, api, session } = setup();
    await s.boot();
    api.me.mockClear();
    for (const attempt of [1, 2, 3, 4]) await s.onBackoff(attempt);
    expect(api.me).toHaveBeenCalledTimes(1);
    api.me.mockRejectedValueOnce(unauthenticated());
    await s.onBackoff(5);
    expect(session.get().notice).toBe(SESSION_ENDED);
  });

  it('a network error during the check is not a logout', async () => {
    const { s, api, session } = setup();
    await s.boot();
    api.me.mockRejectedValueOnce(new ApiError(0, 'NETWORK', 'down'));
    await s.onBackoff(2);
    expect(session.get().status).toBe('authenticated');
  });

  it('a fresh user object from the check updates who we are', async () => {
    const { s, api, session } = setup();
    await s.boot();
    api.me.mockResolvedValueOnce(user('ana', 'Ana Renamed'));
    await s.onBackoff(2);
    expect(session.get().me!.name).toBe('Ana Renamed');
  });
});

describe('Session: profile', () => {
  it('updateName trims, updates who we are and our member entries in every room', async () => {
    const { s, api, session, rooms } = setup();
    await s.boot();
    rooms.upsert(room('r1'));
    rooms.upsert(room('r2', { members: [{ username: 'bo', name: 'Bo', role: 'owner', read_up_to: 0 }] }));
    await s.updateName('  Ana New ');
    expect(api.updateMe).toHaveBeenCalledWith('Ana New');
    expect(session.get().me!.name).toBe('Ana New');
    expect(rooms.room('r1')!.members.find((m) => m.username === 'ana')!.name).toBe('Ana New');
    expect(rooms.room('r2')!.members.map((m) => m.name)).toEqual(['Bo']);
  });

  it('changePassword passes both passwords through', async () => {
    const { s, api } = setup();
    await s.changePassword('old', 'new-secret');
    expect(api.changePassword).toHaveBeenCalledWith('old', 'new-secret');
  });
});
