import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDLE_CONNECTION, Link, type ConnectionState, type LinkHooks } from '../../src/app/link';
import { Store } from '../../src/store/store';
import { ready, socketFactory } from './fakes';

function setup(opts: { addWindowListeners?: boolean } = {}) {
  const f = socketFactory();
  const connection = new Store<ConnectionState>(IDLE_CONNECTION);
  const hooks = {
    onReady: vi.fn<LinkHooks['onReady']>(),
    onReset: vi.fn<LinkHooks['onReset']>(),
    onEvent: vi.fn<LinkHooks['onEvent']>(),
    onUnauthenticated: vi.fn<LinkHooks['onUnauthenticated']>(),
    onBackoff: vi.fn<LinkHooks['onBackoff']>(),
  };
  const link = new Link(
    {
      connection,
      url: () => 'ws://test/ws',
      createSocket: f.create,
      random: () => 0.5,
      addWindowListeners: opts.addWindowListeners ?? false,
    },
    hooks,
  );
  return { f, connection, hooks, link };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('Link', () => {
  it('sends nothing before start, and nothing until the socket is ready', () => {
    const { f, link } = setup();
    expect(link.send({ type: 'ping' })).toBe(false);
    link.start();
    expect(f.last.url).toBe('ws://test/ws');
    f.last.open();
    expect(link.send({ type: 'typing', room: 'r1', active: true })).toBe(false);
    f.last.receive(ready(1));
    expect(link.send({ type: 'typing', room: 'r1', active: true })).toBe(true);
    expect(f.last.sentOfType('typing')).toEqual([{ type: 'typing', room: 'r1', active: true }]);
  });

  it('mirrors the socket status into the connection store; synced only until the socket drops', () => {
    const { f, connection, link } = setup();
    link.start();
    expect(connection.get()).toMatchObject({ state: 'connecting', synced: false });
    f.last.open();
    f.last.receive(ready(1));
    expect(connection.get()).toMatchObject({ state: 'open', synced: false });
    link.markSynced();
    expect(connection.get().synced).toBe(true);
    f.last.serverClose(1006);
    expect(connection.get()).toMatchObject({ state: 'backoff', synced: false, lastClose: 1006 });
  });

  it('hands ready, reset and events to its hooks', () => {
    const { f, hooks, link } = setup();
    link.start();
    f.last.open();
    f.last.receive(ready(1));
    expect(hooks.onReady).toHaveBeenCalledWith(expect.objectContaining({ type: 'ready', seq: 1 }), false);
    f.last.receive({ type: 'presence', user: 'bo', online: true, last_seen: null });
    expect(hooks.onEvent).toHaveBeenCalledWith({ type: 'presence', user: 'bo', online: true, last_seen: null });
    f.last.receive({ type: 'reset', epoch: 'E2', seq: 4 });
    expect(hooks.onReset).toHaveBeenCalledWith({ type: 'reset', epoch: 'E2', seq: 4 });
  });

  it('reports each failed attempt, and close 4001 as unauthenticated; resume reconnects from the cursor', () => {
    const { f, hooks, link } = setup();
    link.start();
    f.last.open();
    f.last.receive(ready(5));
    f.last.serverClose(1006);
    expect(hooks.onBackoff).toHaveBeenLastCalledWith(1);
    vi.runOnlyPendingTimers();
    f.last.serverClose(1006);
    expect(hooks.onBackoff).toHaveBeenLastCalledWith(2);
    vi.runOnlyPendingTimers();
    f.last.open();
    f.last.receive(ready(5));
    f.last.serverClose(4001);
    expect(hooks.onUnauthenticated).toHaveBeenCalledTimes(1);
    const before = f.sockets.length;
    vi.runOnlyPendingTimers();
    expect(f.sockets).toHaveLength(before); // waits for resume()
    link.resume();
    f.last.open();
    expect(f.last.sent[0]).toEqual({ type: 'hello', since: 5, epoch: 'E1' });
  });

  it('reconnectNow skips the backoff wait', () => {
    const { f, link } = setup();
    link.start();
    f.last.serverClose(1006);
    const before = f.sockets.length;
    link.reconnectNow();
    expect(f.sockets).toHaveLength(before + 1);
  });

  it('stop closes the socket for good', () => {
    const { f, connection, link } = setup();
    link.start();
    f.last.open();
    f.last.receive(ready(1));
    link.stop();
    expect(f.last.closedWith).toBe(1000);
    expect(connection.get().state).toBe('stopped');
    expect(link.send({ type: 'ping' })).toBe(false);
    vi.runOnlyPendingTimers();
    expect(f.sockets).toHaveLength(1);
  });

  it('follows the browser going offline and online, until stopped', () => {
    const win = new EventTarget();
    const added = vi.spyOn(win, 'addEventListener');
    const removed = vi.spyOn(win, 'removeEventListener');
    vi.stubGlobal('window', win);
    const { f, connection, link } = setup({ addWindowListeners: true });
    link.start();
    f.last.open();
    f.last.receive(ready(1));
    win.dispatchEvent(new Event('offline'));
    expect(connection.get().state).toBe('offline');
    win.dispatchEvent(new Event('online'));
    expect(connection.get().state).toBe('connecting');
    expect(f.sockets).toHaveLength(2);
    link.stop();
    expect(removed.mock.calls).toEqual(added.mock.calls);
    win.dispatchEvent(new Event('online'));
    expect(f.sockets).toHaveLength(2);
    expect(connection.get().state).toBe('stopped');
  });

  it('leaves the browser events alone when told to', () => {
    const win = new EventTarget();
    vi.stubGlobal('window', win);
    const { f, connection, link } = setup({ addWindowListeners: false });
    link.start();
    f.last.open();
    f.last.receive(ready(1));
    win.dispatchEvent(new Event('offline'));
    expect(connection.get().state).toBe('open');
  });
});
