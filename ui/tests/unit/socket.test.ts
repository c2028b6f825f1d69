import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, SocketClient, type SocketState } from '../../src/net/socket';
import type { ServerEvent } from '../../src/wire/types';
import { msg, ready, socketFactory } from './fakes';

function setup(opts: { random?: () => number } = {}) {
  const f = socketFactory();
  const events: ServerEvent[] = [];
  const readies: { seq: number; resumed: boolean }[] = [];
  const resets: number[] = [];
  const states: SocketState[] = [];
  const client = new SocketClient(
    { url: 'ws://x/ws', createSocket: f.create, random: opts.random ?? (() => 0.5) },
    {
      onEvent: (e) => events.push(e),
      onReady: (e, resumed) => readies.push({ seq: e.seq, resumed }),
      onReset: (e) => resets.push(e.seq),
      onStatus: (s) => states.push(s.state),
    },
  );
  return { f, client, events, readies, resets, states };
}

const message = (id: number, seq: number) => ({ type: 'message', ...msg(id, seq, 'r1', 'bo', `m${id}`) });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SocketClient handshake', () => {
  it('sends hello without a cursor first, then is open after ready', () => {
    const { f, client, readies } = setup();
    client.start();
    expect(client.state).toBe('connecting');
    f.last.open();
    expect(f.last.sent).toEqual([{ type: 'hello' }]);
    expect(client.state).toBe('handshaking');
    expect(client.send({ type: 'ping' })).toBe(false); // nothing but hello before ready
    f.last.receive(ready(42));
    expect(client.state).toBe('open');
    expect(readies).toEqual([{ seq: 42, resumed: false }]);
    expect(client.cursor).toEqual({ epoch: 'E1', seq: 42 });
  });

  it('dispatches every event of an array frame, in order, and advances the cursor', () => {
    const { f, client, events } = setup();
    client.start();
    f.last.open();
    f.last.receive([ready(1), message(1, 2), { type: 'typing', room: 'r1', user: 'bo', active: true }, message(2, 3)]);
    expect(events.map((e) => e.type)).toEqual(['message', 'typing', 'message']);
    expect(client.cursor.seq).toBe(3);
  });

  it('drops durable events at or below the cursor (duplicates)', () => {
    const { f, client, events } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(10));
    f.last.receive(message(1, 10)); // already covered by ready.seq
    f.last.receive(message(2, 11));
    f.last.receive(message(2, 11)); // replayed
    f.last.receive([message(1, 9), message(3, 12)]);
    expect(events.map((e) => (e as { id: number }).id)).toEqual([2, 3]);
    expect(client.cursor.seq).toBe(12);
  });
});

describe('SocketClient reconnect', () => {
  it('reconnects after a close with exponential backoff and jitter, and resumes with since/epoch', () => {
    const { f, client, readies, events } = setup({ random: () => 0 });
    client.start();
    f.last.open();
    f.last.receive(ready(5));
    f.last.receive(message(1, 6));
    f.last.serverClose(1006);
    expect(client.state).toBe('backoff');
    // attempt 0: base 500 ms, random 0 -> half of it
    vi.advanceTimersByTime(249);
    expect(f.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(f.sockets).toHaveLength(2);
    f.last.serverClose(1006); // fails before open
    // attempt 1: 1000 ms -> 500 with random 0
    vi.advanceTimersByTime(499);
    expect(f.sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(f.sockets).toHaveLength(3);
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 6, epoch: 'E1' });
    f.last.receive([ready(8), message(2, 7), message(3, 8)]);
    expect(readies.at(-1)).toEqual({ seq: 8, resumed: true });
    expect(events.map((e) => (e as { id: number }).id)).toEqual([1, 2, 3]);
    expect(client.cursor.seq).toBe(8);
    expect(client.getStatus().attempt).toBe(0);
  });

  it('computes delays within [d/2, d] and caps them', () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 0.5)).toBe(3000);
    expect(backoffDelay(20, () => 1)).toBe(30_000);
    expect(backoffDelay(20, () => 0)).toBe(15_000);
  });

  it('applies reset: new epoch and cursor, handed to the app, used on the next resume', () => {
    const { f, client, resets } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(50));
    f.last.receive({ type: 'reset', epoch: 'E2', seq: 3 });
    expect(resets).toEqual([3]);
    expect(client.cursor).toEqual({ epoch: 'E2', seq: 3 });
    f.last.serverClose(1001);
    vi.runOnlyPendingTimers();
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 3, epoch: 'E2' });
  });

  it('a reset on resume replaces the stale cursor before the ready that follows', () => {
    const { f, client, readies } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(50));
    f.last.serverClose(1006);
    vi.runOnlyPendingTimers();
    f.last.open();
    f.last.receive([ready(3, 'E2'), { type: 'reset', epoch: 'E2', seq: 3 }]);
    // The epoch differed, so the ready was not a resume.
    expect(readies.at(-1)).toEqual({ seq: 3, resumed: false });
    expect(client.cursor).toEqual({ epoch: 'E2', seq: 3 });
  });

  it('ready + reset for an impossible cursor (same epoch, since > head) rewinds the cursor to the server head', () => {
    const { f, client, readies, resets, events } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(90));
    f.last.serverClose(1006);
    vi.runOnlyPendingTimers();
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 90, epoch: 'E1' });
    f.last.receive([ready(40), { type: 'reset', epoch: 'E1', seq: 40 }, message(41, 41)]);
    expect(readies.at(-1)).toEqual({ seq: 40, resumed: true });
    expect(resets).toEqual([40]);
    // Events after the server's head are delivered, not mistaken for duplicates.
    expect(events.map((e) => (e as { id: number }).id)).toEqual([41]);
    expect(client.cursor.seq).toBe(41);
  });

  it('stops on close 4001 (logged out) and never retries', () => {
    const { f, client } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(1));
    f.last.serverClose(4001);
    expect(client.state).toBe('unauthenticated');
    vi.advanceTimersByTime(120_000);
    expect(f.sockets).toHaveLength(1);
  });

  it('pings every 25 s and treats a missing pong as a dead connection', () => {
    const { f, client } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(1));
    vi.advanceTimersByTime(25_000);
    expect(f.last.sentOfType('ping')).toHaveLength(1);
    f.last.receive({ type: 'pong' });
    vi.advanceTimersByTime(25_000);
    expect(f.last.sentOfType('ping')).toHaveLength(2);
    const first = f.last;
    vi.advanceTimersByTime(10_000); // no pong
    expect(first.closedWith).not.toBeNull();
    expect(client.state).toBe('backoff');
  });

  it('goes offline without fast retries, and reconnects at once when the network returns', () => {
    const { f, client } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(7));
    client.setNetwork(false);
    expect(client.state).toBe('offline');
    expect(f.last.closedWith).not.toBeNull();
    vi.advanceTimersByTime(29_999);
    expect(f.sockets).toHaveLength(1);
    client.setNetwork(true);
    expect(f.sockets).toHaveLength(2);
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 7, epoch: 'E1' });
  });

  it('while offline, still probes once per max delay in case the online event never comes', () => {
    const { f, client } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(7));
    client.setNetwork(false);
    vi.advanceTimersByTime(30_000);
    expect(f.sockets).toHaveLength(2);
    expect(client.state).toBe('connecting');
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 7, epoch: 'E1' });
  });

  it('ignores late callbacks from a replaced socket', () => {
    const { f, client, events } = setup();
    client.start();
    const old = f.last;
    old.open();
    old.receive(ready(1));
    client.setNetwork(false);
    client.setNetwork(true);
    old.receive(message(9, 9)); // handlers were detached
    expect(events).toEqual([]);
    expect(f.sockets).toHaveLength(2);
  });

  it('retries when the handshake never completes', () => {
    const { f, client } = setup();
    client.start();
    f.last.open();
    vi.advanceTimersByTime(15_000);
    expect(client.state).toBe('backoff');
  });

  it('stop() closes and prevents reconnects', () => {
    const { f, client } = setup();
    client.start();
    f.last.open();
    f.last.receive(ready(1));
    client.stop();
    expect(client.state).toBe('stopped');
    vi.advanceTimersByTime(120_000);
    expect(f.sockets).toHaveLength(1);
  });
});
