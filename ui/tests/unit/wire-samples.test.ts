/**
 * The validator against frames and bodies the server's own code made (tests/wire/wire_samples.py):
 * it accepts every valid one unchanged and refuses every broken one, the verdicts msgspec gives on the
 * Python side (tests/wire/test_generated.py).
 */
import { describe, expect, it } from 'vitest';
import samples from '../fixtures/wire-samples.json';
import { parse, parseServerFrame } from '../../src/wire/schema';
import type { WireTypes } from '../../src/wire/generated';

describe('server frames made by the server', () => {
  it.each(samples.server_events.map((f) => [f.type, f] as const))('accepts %s as sent', (_type, frame) => {
    const { events, errors } = parseServerFrame(JSON.stringify(frame));
    expect(errors).toEqual([]);
    expect(events).toEqual([frame]);
  });

  it('accepts all of them coalesced into one array frame, in order', () => {
    const { events, errors } = parseServerFrame(JSON.stringify(samples.server_events));
    expect(errors).toEqual([]);
    expect(events).toEqual(samples.server_events);
  });

  it.each(samples.invalid_server_events.map((c) => [c.why, c.frame] as const))('refuses one with %s', (why, frame) => {
    const { events, errors } = parseServerFrame(JSON.stringify(frame));
    expect(events).toEqual([]);
    expect(errors).toHaveLength(1);
    const field = why.split(': ')[1]!.split(' ')[0]!; // "<type>: <field> missing" and the like
    expect(errors[0]).toContain(`${frame.type}.${field}:`);
  });
});

describe('REST bodies made by the server', () => {
  const cases = Object.entries(samples.rest).flatMap(([name, bodies]) =>
    bodies.map((body) => [name as keyof WireTypes, body] as const),
  );
  it.each(cases)('accepts a %s as sent', (name, body) => {
    expect(parse(name, body)).toEqual(body);
  });
});
