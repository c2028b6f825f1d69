import { describe, expect, it } from 'vitest';
import { UiStore } from '../../src/store/ui';

describe('UiStore', () => {
  it('gives every notice a new id, so the same text twice is shown again', () => {
    const ui = new UiStore();
    ui.notify('Saved.');
    const first = ui.get().notice!;
    ui.notify('Saved.');
    expect(ui.get().notice).toEqual({ id: first.id + 1, text: 'Saved.', kind: 'info' });
    ui.notify('Nope', 'error');
    expect(ui.get().notice).toMatchObject({ text: 'Nope', kind: 'error' });
    ui.dismissNotice();
    expect(ui.get().notice).toBeNull();
  });

  it('setting the room that is already open does not notify listeners', () => {
    const ui = new UiStore();
    let calls = 0;
    ui.subscribe(() => calls++);
    ui.setActiveRoom('r1');
    ui.setActiveRoom('r1');
    expect(calls).toBe(1);
    expect(ui.get().activeRoom).toBe('r1');
  });

  it('announce sets the live-region text; clear resets everything', () => {
    const ui = new UiStore();
    ui.setActiveRoom('r1');
    ui.notify('x');
    ui.announce('Bo: hi');
    expect(ui.get().announcement).toBe('Bo: hi');
    ui.clear();
    expect(ui.get()).toEqual({ activeRoom: null, notice: null, announcement: '' });
  });
});
