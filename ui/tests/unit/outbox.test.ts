import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { newClientMsgId, openIdbOutbox } from '../../src/net/outbox';

const entry = (id: string, user: string, at: string) => ({
  client_msg_id: id,
  user,
  room: 'r1',
  body: `b-${id}`,
  created_at: at,
});

describe('IndexedDB outbox', () => {
  it('keeps entries across reopen (reload), per user, oldest first, until deleted', async () => {
    const idb = new IDBFactory();
    const a = await openIdbOutbox(idb, 'test');
    await a.put(entry('c2', 'ana', '2026-11-25T10:00:02.000Z'));
    await a.put(entry('c1', 'ana', '2026-11-25T10:00:01.000Z'));
    await a.put(entry('x1', 'bo', '2026-11-25T10:00:00.000Z'));
    a.close();

    const b = await openIdbOutbox(idb, 'test'); // "after a reload"
    expect((await b.list('ana')).map((e) => e.client_msg_id)).toEqual(['c1', 'c2']);
    expect((await b.list('bo')).map((e) => e.client_msg_id)).toEqual(['x1']);
    await b.delete('c1');
    await b.put(entry('c2', 'ana', '2026-11-25T10:00:02.000Z')); // idempotent re-put
    expect((await b.list('ana')).map((e) => e.client_msg_id)).toEqual(['c2']);
    b.close();
  });

  it('makes RFC 4122 v4 ids', () => {
    const id = newClientMsgId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newClientMsgId()).not.toBe(id);
  });
});
