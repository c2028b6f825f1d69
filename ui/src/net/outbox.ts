/**
 * Unsent messages, persisted in IndexedDB so they survive reloads and
 * crashes. An entry is written before the first send attempt and deleted
 * only when the server acks it (or rejects it for good), so every message
 * the user typed is eventually delivered exactly once: resends reuse the
 * same `client_msg_id`, which the server treats idempotently.
 *
 * Falls back to memory when IndexedDB is unavailable (private modes).
 */
import type { RoomId, Username } from '../wire/types';

export interface OutboxEntry {
  client_msg_id: string;
  user: Username;
  room: RoomId;
  body: string;
  created_at: string;
}

export interface Outbox {
  put(e: OutboxEntry): Promise<void>;
  delete(clientMsgId: string): Promise<void>;
  /** This user's entries, oldest first. */
  list(user: Username): Promise<OutboxEntry[]>;
  close(): void;
}

const DB_NAME = 'chatter';
const STORE = 'outbox';

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

export async function openIdbOutbox(factory: IDBFactory = indexedDB, name = DB_NAME): Promise<Outbox> {
  const open = factory.open(name, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains(STORE)) {
      const s = db.createObjectStore(STORE, { keyPath: 'client_msg_id' });
      s.createIndex('user', 'user');
    }
  };
  const db = await req(open);
  return {
    async put(e) {
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put(e);
      await done(tx);
    },
    async delete(id) {
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).delete(id);
      await done(tx);
    },
    async list(user) {
      const tx = db.transaction(STORE, 'readonly');
      const all = await req(tx.objectStore(STORE).index('user').getAll(user) as IDBRequest<OutboxEntry[]>);
      return all.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
    },
    close() {
      db.close();
    },
  };
}

export function memoryOutbox(): Outbox {
  const m = new Map<string, OutboxEntry>();
  return {
    async put(e) {
      m.set(e.client_msg_id, { ...e });
    },
    async delete(id) {
      m.delete(id);
    },
    async list(user) {
      return [...m.values()].filter((e) => e.user === user).sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    },
    close() {},
  };
}

export async function openOutbox(): Promise<Outbox> {
  try {
    if (typeof indexedDB === 'undefined') return memoryOutbox();
    return await openIdbOutbox(indexedDB);
  } catch {
    return memoryOutbox();
  }
}

/** RFC 4122 v4 id; crypto.randomUUID needs a secure context, so fall back. */
export function newClientMsgId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return c.randomUUID();
    } catch {
      /* insecure context */
    }
  }
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
