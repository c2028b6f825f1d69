/**
 * REST client for `/api`. Auth rides on the HttpOnly session cookie; every
 * state-changing request sends `Content-Type: application/json` (the
 * server's CSRF rule). Errors become `ApiError` with the server's stable
 * code; a 401 anywhere also notifies `onUnauthenticated` so the app can show
 * the login screen.
 */
import { parse, parseApiError } from '../wire/schema';
import type { LoginResult, Member, Message, MessagesPage, Role, Room, User } from '../wire/types';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

let unauthenticatedListener: (() => void) | null = null;
export function onUnauthenticated(fn: (() => void) | null): void {
  unauthenticatedListener = fn;
}

async function request(
  method: string,
  path: string,
  body?: unknown,
  opts: { quiet401?: boolean } = {},
): Promise<unknown> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET' && method !== 'HEAD') {
    init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body ?? {});
  }
  let res: Response;
  try {
    res = await fetch(`/api${path}`, init);
  } catch {
    throw new ApiError(0, 'NETWORK', 'Cannot reach the server. Check your connection.');
  }
  if (res.status === 204) return null;
  let data: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = parseApiError(data);
    const ra = res.headers.get('Retry-After');
    const apiErr = new ApiError(
      res.status,
      err?.code ?? (res.status === 401 ? 'UNAUTHENTICATED' : 'BAD_RESPONSE'),
      err?.message ?? `Request failed (${res.status})`,
      ra ? Number(ra) || null : null,
    );
    if (res.status === 401 && !opts.quiet401) unauthenticatedListener?.();
    throw apiErr;
  }
  return data;
}

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new ApiError(
      0,
      'BAD_RESPONSE',
      `Unexpected response from the server: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function userOf(v: unknown): User {
  return wrap(() => parse('User', (v as { user?: unknown })?.user ?? v, 'user'));
}

export const api = {
  async me(): Promise<User> {
    return userOf(await request('GET', '/me', undefined, { quiet401: true }));
  },
  async signup(username: string, name: string, password: string): Promise<User> {
    return userOf(await request('POST', '/users', { username, name, password }));
  },
  async login(username: string, password: string): Promise<LoginResult> {
    const d = await request('POST', '/auth/login', { username, password }, { quiet401: true });
    return wrap(() => parse('LoginResult', d, 'login'));
  },
  async logout(): Promise<void> {
    await request('POST', '/auth/logout', {}, { quiet401: true });
  },
  async updateMe(name: string): Promise<User> {
    return userOf(await request('PATCH', '/me', { name }));
  },
  async changePassword(current: string, next: string): Promise<void> {
    // A wrong current password may be answered with 401: that must not end the session here.
    await request('POST', '/me/password', { current, new: next }, { quiet401: true });
  },
  async searchUsers(q: string): Promise<User[]> {
    const d = await request('GET', `/users?q=${encodeURIComponent(q)}`);
    return wrap(() => parse('UserList', d, 'users').users);
  },
  async user(username: string): Promise<User> {
    return userOf(await request('GET', `/users/${encodeURIComponent(username)}`));
  },
  async rooms(): Promise<Room[]> {
    const d = await request('GET', '/rooms');
    return wrap(() => parse('RoomList', d, 'rooms').rooms);
  },
  async room(id: string): Promise<Room> {
    const d = await request('GET', `/rooms/${encodeURIComponent(id)}`);
    return wrap(() => parse('Room', d, 'room'));
  },
  async createRoom(name: string, members: string[]): Promise<Room> {
    const d = await request('POST', '/rooms', { name, members });
    return wrap(() => parse('Room', d, 'room'));
  },
  async openDm(username: string): Promise<Room> {
    const d = await request('POST', '/dms', { username });
    return wrap(() => parse('Room', d, 'room'));
  },
  async renameRoom(id: string, name: string): Promise<Room> {
    const d = await request('PATCH', `/rooms/${encodeURIComponent(id)}`, { name });
    return wrap(() => parse('Room', d, 'room'));
  },
  async deleteRoom(id: string): Promise<void> {
    await request('DELETE', `/rooms/${encodeURIComponent(id)}`);
  },
  async addMember(id: string, username: string, role: Role = 'member'): Promise<Member> {
    const d = await request('POST', `/rooms/${encodeURIComponent(id)}/members`, { username, role });
    return wrap(() => parse('Member', d, 'member'));
  },
  async setRole(id: string, username: string, role: Role): Promise<Member> {
    const d = await request('PATCH', `/rooms/${encodeURIComponent(id)}/members/${encodeURIComponent(username)}`, {
      role,
    });
    return wrap(() => parse('Member', d, 'member'));
  },
  async removeMember(id: string, username: string): Promise<void> {
    await request('DELETE', `/rooms/${encodeURIComponent(id)}/members/${encodeURIComponent(username)}`);
  },
  async messages(id: string, before: number | null, limit = 50): Promise<MessagesPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before !== null) q.set('before', String(before));
    const d = await request('GET', `/rooms/${encodeURIComponent(id)}/messages?${q}`);
    return wrap(() => parse('History', d, 'page'));
  },
  async markRead(id: string, up_to: number): Promise<void> {
    await request('POST', `/rooms/${encodeURIComponent(id)}/read`, { up_to });
  },
  async postMessage(id: string, client_msg_id: string, body: string): Promise<Message> {
    const d = await request('POST', `/rooms/${encodeURIComponent(id)}/messages`, { client_msg_id, body });
    return wrap(() => parse('Message', d, 'message'));
  },
};

/** The REST client's shape; the controller's parts take the slice of it they use (`Pick<Api, ...>`), so tests pass fakes. */
export type Api = typeof api;

/** Human text for an API error, by stable code, for a given action. */
export function describeError(e: unknown, context: 'login' | 'signup' | 'password' | 'generic' = 'generic'): string {
  if (!(e instanceof ApiError)) return 'Something went wrong. Please try again.';
  switch (e.code) {
    case 'UNAUTHENTICATED':
      if (context === 'login') return 'Wrong username or password.';
      if (context === 'password') return 'Your current password is not correct.';
      return 'Your session has ended. Please log in again.';
    case 'CONFLICT':
      if (context === 'signup') return 'That username is taken. Try another one.';
      return e.message || 'That conflicts with the current state. Refresh and try again.';
    case 'INVALID_INPUT':
      return e.message ? `Please check your input: ${e.message}` : 'Please check your input.';
    case 'FORBIDDEN':
      return context === 'password' ? 'Your current password is not correct.' : "You don't have permission to do that.";
    case 'NOT_FOUND':
      return 'Not found — it may have been deleted, or you are no longer a member.';
    case 'PAYLOAD_TOO_LARGE':
      return 'That is too large to send.';
    case 'RATE_LIMITED':
      return e.retryAfter
        ? `Too many attempts. Try again in ${e.retryAfter} s.`
        : 'Too many attempts. Please wait a moment.';
    case 'UNAVAILABLE':
      return 'The server is busy or starting up. Please try again shortly.';
    case 'NETWORK':
      return e.message;
    default:
      return e.message || 'Something went wrong. Please try again.';
  }
}
