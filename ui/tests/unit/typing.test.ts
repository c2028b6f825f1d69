import { describe, expect, it } from 'vitest';
import { TYPING_THROTTLE_MS, Typing } from '../../src/app/typing';
import { FakeSender } from './fakes';

describe('Typing (our own notifications)', () => {
  it('sends active:true at most once per throttle window per room', () => {
    const link = new FakeSender();
    const t = new Typing(link);
    t.setTyping('r1', true, 1000);
    t.setTyping('r1', true, 1000 + TYPING_THROTTLE_MS - 1);
    t.setTyping('r2', true, 1001);
    t.setTyping('r1', true, 1000 + TYPING_THROTTLE_MS);
    expect(link.frames).toEqual([
      { type: 'typing', room: 'r1', active: true },
      { type: 'typing', room: 'r2', active: true },
      { type: 'typing', room: 'r1', active: true },
    ]);
  });

  it('sends active:false once, and only after an active:true went out', () => {
    const link = new FakeSender();
    const t = new Typing(link);
    t.setTyping('r1', false);
    t.setTyping('r1', true, 1000);
    t.setTyping('r1', false);
    t.setTyping('r1', false);
    expect(link.frames).toEqual([
      { type: 'typing', room: 'r1', active: true },
      { type: 'typing', room: 'r1', active: false },
    ]);
  });

  it('an active:true that could not be sent does not start the throttle', () => {
    const link = new FakeSender();
    const t = new Typing(link);
    link.open = false;
    t.setTyping('r1', true, 1000);
    link.open = true;
    t.setTyping('r1', true, 1001);
    expect(link.frames).toEqual([{ type: 'typing', room: 'r1', active: true }]);
  });

  it('reset forgets what was sent (a new sign-in starts clean)', () => {
    const link = new FakeSender();
    const t = new Typing(link);
    t.setTyping('r1', true, 1000);
    t.reset();
    t.setTyping('r1', false);
    t.setTyping('r1', true, 1001);
    expect(link.ofType('typing').map((f) => f.active)).toEqual([true, true]);
  });
});
