/**
 * Validation of everything received from the server, against the server's own JSON Schema.
 *
 * `generated.ts` holds the schemas (from the server's structs); this module is the small,
 * generic checker over them: the keywords `type`, `properties` + `required`, `enum`, `const`,
 * `anyOf` (with a `discriminator`), `items`, `minimum`/`maximum` (integers must be safe
 * integers), `minLength`/`maxLength` (in code points), `minItems`/`maxItems` and `pattern`.
 * The generator refuses a schema that uses any other keyword.
 *
 * A checked value is a copy holding only the declared fields: extra fields the server adds
 * (the contract allows additions) are tolerated and dropped. `parseServerFrame` accepts a text
 * frame holding one event or an array of them; an event of an unknown `type` is skipped (the
 * server may add event types), a known type with a wrong shape is reported, never passed on.
 */
import { schemas, type ServerEvent, type WireTypes } from './generated';

export class WireError extends Error {
  override name = 'WireError';
}

interface Schema {
  readonly $ref?: string;
  readonly anyOf?: readonly Schema[];
  readonly discriminator?: { readonly propertyName: string; readonly mapping: Readonly<Record<string, string>> };
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly type?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly items?: Schema;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly pattern?: string;
}

const byName: Readonly<Record<string, Schema>> = schemas;
const patterns = new Map<string, RegExp>();

function resolve(ref: string): Schema {
  const s = byName[ref.slice(ref.lastIndexOf('/') + 1)];
  if (!s) throw new WireError(`schema ${ref} is missing`);
  return s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a schema accepts, in words, for error messages. */
function describe(s: Schema): string {
  if (s.$ref) return describe(resolve(s.$ref));
  if (s.anyOf) return s.anyOf.map(describe).join(' or ');
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' or ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === 'integer') {
    const range = [s.minimum !== undefined ? `>= ${s.minimum}` : '', s.maximum !== undefined ? `<= ${s.maximum}` : ''];
    return ['integer', ...range.filter(Boolean)].join(' ');
  }
  return s.type ?? 'anything';
}

function fail(path: string, s: Schema): never {
  throw new WireError(`${path}: expected ${describe(s)}`);
}

function checkString(s: Schema, v: string, path: string): string {
  if (s.minLength !== undefined || s.maxLength !== undefined) {
    const n = [...v].length; // JSON Schema counts code points, not UTF-16 units
    if (s.minLength !== undefined && n < s.minLength) throw new WireError(`${path}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && n > s.maxLength) throw new WireError(`${path}: longer than ${s.maxLength}`);
  }
  if (s.pattern !== undefined) {
    let re = patterns.get(s.pattern);
    if (!re) patterns.set(s.pattern, (re = new RegExp(s.pattern)));
    if (!re.test(v)) throw new WireError(`${path}: does not match ${s.pattern}`);
  }
  return v;
}

function checkObject(s: Schema, v: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const required = s.required ?? [];
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    if (key in v) out[key] = check(prop, v[key], `${path}.${key}`);
    else if (required.includes(key)) throw new WireError(`${path}.${key}: missing`);
  }
  return out;
}

/** `v` checked against `s`: a copy with only the declared fields, or a WireError naming the first problem. */
export function check(s: Schema, v: unknown, path: string): unknown {
  if (s.$ref) return check(resolve(s.$ref), v, path);
  if (s.anyOf) {
    const d = s.discriminator;
    if (d && isObject(v)) {
      const ref = typeof v[d.propertyName] === 'string' ? d.mapping[v[d.propertyName] as string] : undefined;
      if (!ref) throw new WireError(`${path}.${d.propertyName}: expected one of ${Object.keys(d.mapping).join(', ')}`);
      return check(resolve(ref), v, path);
    }
    for (const option of s.anyOf) {
      try {
        return check(option, v, path);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
    }
    return fail(path, s);
  }
  if (s.enum) return s.enum.includes(v) ? v : fail(path, s);
  if (s.const !== undefined) return v === s.const ? v : fail(path, s);
  switch (s.type) {
    case 'string':
      return typeof v === 'string' ? checkString(s, v, path) : fail(path, s);
    case 'integer':
    case 'number': {
      const ok = s.type === 'integer' ? Number.isSafeInteger(v) : Number.isFinite(v);
      if (!ok || (s.minimum !== undefined && (v as number) < s.minimum)) return fail(path, s);
      if (s.maximum !== undefined && (v as number) > s.maximum) return fail(path, s);
      return v;
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : fail(path, s);
    case 'null':
      return v === null ? v : fail(path, s);
    case 'array': {
      if (!Array.isArray(v)) return fail(path, s);
      if (s.minItems !== undefined && v.length < s.minItems) throw new WireError(`${path}: fewer than ${s.minItems}`);
      if (s.maxItems !== undefined && v.length > s.maxItems) throw new WireError(`${path}: more than ${s.maxItems}`);
      const items = s.items;
      return items ? v.map((x, i) => check(items, x, `${path}[${i}]`)) : [...(v as unknown[])];
    }
    case 'object':
      return isObject(v) ? checkObject(s, v, path) : fail(path, s);
    default:
      throw new WireError(`${path}: the schema has no type this checker knows (${String(s.type)})`);
  }
}

/** A body the server sent, checked against its schema (`what` names it in errors). */
export function parse<K extends keyof WireTypes>(name: K, v: unknown, what: string = name): WireTypes[K] {
  return check(resolve(name), v, what) as WireTypes[K];
}

const eventMapping = schemas.ServerEvent.discriminator.mapping as Readonly<Record<string, string>>;

/** Parse one server event object. Returns null for an unknown `type`. */
export function parseServerEvent(v: unknown): ServerEvent | null {
  if (!isObject(v)) throw new WireError('event: expected object');
  const t = v.type;
  if (typeof t !== 'string') throw new WireError('event.type: expected string');
  const ref = eventMapping[t];
  return ref ? (check(resolve(ref), v, t) as ServerEvent) : null;
}

export interface ParsedFrame {
  events: ServerEvent[];
  /** Problems with individual events; the valid ones are still delivered. */
  errors: string[];
}

/** Parse a text frame: one event object, or a JSON array of them. */
export function parseServerFrame(text: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { events: [], errors: ['frame: invalid JSON'] };
  }
  const items: unknown[] = Array.isArray(raw) ? raw : [raw];
  const events: ServerEvent[] = [];
  const errors: string[] = [];
  for (const item of items) {
    try {
      const ev = parseServerEvent(item);
      if (ev) events.push(ev);
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  return { events, errors };
}

/**
 * A REST error body `{"error":{"code","message"}}`, or null. Lenient on purpose: an error may
 * come from a proxy in front of the server, and then the status is what counts.
 */
export function parseApiError(v: unknown): { code: string; message: string } | null {
  if (!isObject(v) || !isObject(v.error)) return null;
  const { code, message } = v.error;
  if (typeof code !== 'string') return null;
  return { code, message: typeof message === 'string' ? message : '' };
}
