import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { failureText, RETRY_JITTER_MS, RETRY_MIN_MS, Sending } from '../../src/app/sending';
import type { Outbox, OutboxEntry } from '../../src/net/outbox';
import { MessagesStore } from '../../src/store/messages';
import { MAX_BODY_CHARS } from '../../src/wire/types';
import { FakeSender, msg, recordingOutbox } from './fakes';

const T0 = new Date('2026-11-25T10:00:00.000Z');

function entry(id: string, over: Partial<OutboxEntry> = {}): OutboxEntry {
  return { client_msg_id: id, user: 'ana', room: 'r1', body: `body ${id}`, created_at: T0.toISOString(), ...over };
}

async function setup(opts: { outbox?: Outbox & { closed: boolean }; me?: string | null; random?: number } = {}) {
  const link = new FakeSender();
  const messages = new MessagesStore();
  const outbox = opts.outbox ?? recordingOutbox();
  const stopTyping = vi.fn();
  let n = 0;
  const sending = new Sending({
    link,
    messages,
    openOutbox: async () => outbox,
    me: () => (opts.me === undefined ? 'ana' : opts.me),
    stopTyping,
    random: () => opts.random ?? 0.5,
    newId: () => `id${++n}`,
    now: () => T0,
  });
  await sending.open('ana', () => true);
  return { link, messages, outbox, stopTyping, sending };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => vi.useRealTimers());

describe('Sending.open', () => {
  it('shows what the outbox still holds for this user as pending', async () => {
    const outbox = recordingOutbox();
    await outbox.put(entry('a'));
    await outbox.put(entry('b', { user: 'bo' }));
    const { messages } = await setup({ outbox });
    expect(messages.pendingFor('r1').map((p) => [p.client_msg_id, p.state])).toEqual([['a', 'pending']]);
  });

  it('a sign-in that ended while the outbox was opening gets false, and that outbox is closed', async () => {
    const outbox = recordingOutbox();
    const s = new Sending({
      link: new FakeSender(),
      messages: new MessagesStore(),
      openOutbox: async () => outbox,
      me: () => 'ana',
      stopTyping: () => {},
    });
    expect(await s.open('ana', () => false)).toBe(false);
    expect(outbox.closed).toBe(true);
  });

  it('a sign-in that ended while the outbox was being read shows nothing as pending', async () => {
    const outbox = recordingOutbox();
    await outbox.put(entry('a'));
    const messages = new MessagesStore();
    const s = new Sending({
      link: new FakeSender(),
      messages,
      openOutbox: async () => outbox,
      me: () => 'ana',
      stopTyping: () => {},
    });
    let calls = 0;
    expect(await s.open('ana', () => ++calls === 1)).toBe(false);
    expect(messages.pendingFor('r1')).toEqual([]);
  });
});

describe('Sending.send', () => {
  it('trims trailing space, shows it pending, writes the outbox, ends typing, then sends', async () => {
    const { link, messages, outbox, stopTyping, sending } = await setup();
    const id = await sending.send('r1', 'hello \n\t');
    expect(id).toBe('id1');
    expect(messages.pendingFor('r1')).toMatchObject([{ client_msg_id: 'id1', body: 'hello', state: 'pending' }]);
    expect(await outbox.list('ana')).toEqual([entry('id1', { body: 'hello' })]);
    expect(stopTyping).toHaveBeenCalledWith('r1');
    expect(link.frames).toEqual([{ type: 'send', room: 'r1', client_msg_id: 'id1', body: 'hello' }]);
  });

  it('sends nothing for blank text or when signed out', async () => {
    const a = await setup();
    expect(await a.sending.send('r1', ' \n ')).toBeNull();
    const b = await setup({ me: null });
    expect(await b.sending.send('r1', 'hi')).toBeNull();
    expect([...a.link.frames, ...b.link.frames]).toEqual([]);
  });

  it('refuses a body over the limit (counted in code points) before anything is stored', async () => {
    const { messages, sending } = await setup();
    await expect(sending.send('r1', '😀'.repeat(MAX_BODY_CHARS))).resolves.toBe('id1');
    await expect(sending.send('r1', 'x'.repeat(MAX_BODY_CHARS + 1))).rejects.toThrow(/at most 4000/);
    expect(messages.pendingFor('r1')).toHaveLength(1);
  });

  it('still sends when the outbox write fails', async () => {
    const outbox = recordingOutbox();
    outbox.put = () => Promise.reject(new Error('quota'));
    const { link, sending } = await setup({ outbox });
    await sending.send('r1', 'hi');
    expect(link.ofType('send')).toHaveLength(1);
  });

  it('while the socket is down the message waits in the outbox; flushOutbox sends it with the same id', async () => {
    const { link, sending } = await setup();
    link.open = false;
    const id = await sending.send('r1', 'later');
    expect(link.frames).toEqual([]);
    link.open = true;
    await sending.flushOutbox();
    expect(link.frames).toEqual([{ type: 'send', room: 'r1', client_msg_id: id, body: 'later' }]);
  });
});

describe('Sending.flushOutbox', () => {
  it('deletes entries whose message is already confirmed instead of resending them', async () => {
    const outbox = recordingOutbox();
    const { link, messages, sending } = await setup({ outbox });
    await outbox.put(entry('done'));
    messages.setLatestPage('r1', [msg(3, 3, 'r1', 'ana', 'body done', 'done')], false);
    await outbox.put(entry('todo'));
    await sending.flushOutbox();
    expect(link.ofType('send').map((f) => f.client_msg_id)).toEqual(['todo']);
    await vi.waitFor(async () => expect((await outbox.list('ana')).map((e) => e.client_msg_id)).toEqual(['todo']));
  });

  it('does not resend a message that failed for good', async () => {
    const { link, sending, messages } = await setup();
    link.open = false;
    const id = (await sending.send('r1', 'x'))!;
    messages.failPending(id, 'no');
    link.open = true;
    await sending.flushOutbox();
    expect(link.frames).toEqual([]);
  });
});

describe('Sending.acked / delivered', () => {
  it('an ack turns the pending message into the confirmed one and deletes the outbox entry', async () => {
    const { sending, outbox } = await setup();
    const id = (await sending.send('r1', 'hi'))!;
    const m = sending.acked({ type: 'ack', client_msg_id: id, id: 5, seq: 8, room: 'r1', created_at: 'T' });
    expect(m).toEqual({
      ...{ id: 5, seq: 8, room: 'r1', sender: 'ana', body: 'hi', client_msg_id: id, created_at: 'T' },
      ...{ edited_at: null, deleted: false, reply_to: null, mentions: [], reactions: [], attachments: [] },
    });
    await vi.waitFor(async () => expect(await outbox.list('ana')).toEqual([]));
  });

  it('an ack for a message not pending here returns null but still clears the outbox entry', async () => {
    const outbox = recordingOutbox();
    const { sending } = await setup({ outbox });
    await outbox.put(entry('elsewhere'));
    expect(
      sending.acked({ type: 'ack', client_msg_id: 'nope', id: 5, seq: 8, room: 'r1', created_at: 'T' }),
    ).toBeNull();
    sending.acked({ type: 'ack', client_msg_id: 'elsewhere', id: 6, seq: 9, room: 'r1', created_at: 'T' });
    await vi.waitFor(async () => expect(await outbox.list('ana')).toEqual([]));
  });

  it('delivered deletes the outbox entry', async () => {
    const outbox = recordingOutbox();
    const { sending } = await setup({ outbox });
    await outbox.put(entry('c1'));
    sending.delivered('c1');
    await vi.waitFor(async () => expect(await outbox.list('ana')).toEqual([]));
  });
});

describe('Sending.rejected', () => {
  it('RATE_LIMITED and UNAVAILABLE are resent with the same id after the retry delay', async () => {
    const { link, sending } = await setup({ random: 0.25 });
    const a = (await sending.send('r1', 'a'))!;
    const b = (await sending.send('r1', 'b'))!;
    expect(sending.rejected({ type: 'error', code: 'RATE_LIMITED', message: 'slow', ref: a })).toBe(true);
    expect(sending.rejected({ type: 'error', code: 'UNAVAILABLE', message: 'busy', ref: b })).toBe(true);
    const delay = RETRY_MIN_MS + 0.25 * RETRY_JITTER_MS;
    vi.advanceTimersByTime(delay - 1);
    expect(link.ofType('send')).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(link.ofType('send').map((f) => f.client_msg_id)).toEqual([a, b, a, b]);
  });

  it('any other code fails the message for good and deletes its outbox entry', async () => {
    const { sending, messages, outbox } = await setup();
    const id = (await sending.send('r1', 'a'))!;
    expect(sending.rejected({ type: 'error', code: 'NOT_FOUND', message: 'no room', ref: id })).toBe(true);
    expect(messages.findPending(id)).toMatchObject({
      state: 'failed',
      error: 'Not delivered: you are not a member of this room.',
    });
    await vi.waitFor(async () => expect(await outbox.list('ana')).toEqual([]));
  });

  it('an error that is not about a pending message is not ours', async () => {
    const { sending } = await setup();
    expect(sending.rejected({ type: 'error', code: 'NOT_FOUND', message: 'x', ref: 'unknown' })).toBe(false);
    expect(sending.rejected({ type: 'error', code: 'NOT_FOUND', message: 'x', ref: null })).toBe(false);
  });

  it('close cancels scheduled retries and closes the outbox', async () => {
    const { link, sending, outbox } = await setup();
    const a = (await sending.send('r1', 'a'))!;
    sending.rejected({ type: 'error', code: 'RATE_LIMITED', message: 'slow', ref: a });
    sending.close();
    vi.advanceTimersByTime(RETRY_MIN_MS + RETRY_JITTER_MS);
    expect(link.ofType('send')).toHaveLength(1);
    expect(outbox.closed).toBe(true);
  });
});

describe('failureText', () => {
  it('names the reason by code', () => {
    expect(failureText('NOT_FOUND', 'x')).toBe('Not delivered: you are not a member of this room.');
    expect(failureText('INVALID_INPUT', 'too long')).toBe('Not delivered: too long');
    expect(failureText('INVALID_INPUT', '')).toBe('Not delivered: invalid message');
    expect(failureText('CONFLICT', 'x')).toBe('Not delivered: conflicting message id.');
    expect(failureText('FORBIDDEN', '')).toBe('Not delivered: FORBIDDEN');
    expect(failureText('FORBIDDEN', 'nope')).toBe('Not delivered: nope');
  });
});

describe('Sending.retry / discard', () => {
  it('retry puts a failed message back in the outbox as pending and sends it again', async () => {
    const { link, sending, messages, outbox } = await setup();
    const id = (await sending.send('r1', 'a'))!;
    sending.rejected({ type: 'error', code: 'INVALID_INPUT', message: 'bad', ref: id });
    await vi.waitFor(async () => expect(await outbox.list('ana')).toEqual([]));
    await sending.retry(id);
    expect(messages.findPending(id)!.state).toBe('pending');
    expect((await outbox.list('ana')).map((e) => e.client_msg_id)).toEqual([id]);
    expect(link.ofType('send').map((f) => f.client_msg_id)).toEqual([id, id]);
    await sending.retry('unknown');
    expect(link.ofType('send')).toHaveLength(2);
  });

  it('discard removes the message and its outbox entry', async () => {
    const { sending, messages, outbox } = await setup();
    const id = (await sending.send('r1', 'a'))!;
    await sending.discard(id);
    expect(messages.pendingFor('r1')).toEqual([]);
    expect(await outbox.list('ana')).toEqual([]);
  });
});
