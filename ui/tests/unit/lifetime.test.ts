import { describe, expect, it } from 'vitest';
import { Lifetime, Work } from '../../src/app/lifetime';
import { deferred } from './fakes';

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('Lifetime', () => {
  it('a token stays alive until the sign-in it was taken in ends', () => {
    const l = new Lifetime();
    const first = l.begin();
    const later = l.token();
    expect(first()).toBe(true);
    expect(later()).toBe(true);
    l.end();
    expect(first()).toBe(false);
    expect(later()).toBe(false);
  });

  it('a new sign-in makes every earlier token stale', () => {
    const l = new Lifetime();
    const a = l.begin();
    const b = l.begin();
    expect(a()).toBe(false);
    expect(b()).toBe(true);
  });
});

describe('Work', () => {
  it('idle waits for tracked work, including work started while it was waiting', async () => {
    const w = new Work();
    const first = deferred<void>();
    const second = deferred<void>();
    w.track(first.promise);
    let idle = false;
    const waiting = w.idle().then(() => {
      idle = true;
    });
    w.track(second.promise);
    first.resolve();
    await flushMicrotasks();
    expect(idle).toBe(false);
    second.resolve();
    await waiting;
    expect(idle).toBe(true);
  });

  it('idle resolves at once when nothing is tracked', async () => {
    await expect(new Work().idle()).resolves.toBeUndefined();
  });
});
