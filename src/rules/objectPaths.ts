/**
 * Compiled dotted paths (`spec.accessLog[].grpcService.backendRef`) and a walker
 * that yields every value found at one, with the concrete location
 * (`spec.accessLog[2].grpcService.backendRef`) for messages. Hand-written
 * rather than JSONPath: it is on the admission hot path and the table only
 * needs fields and arrays.
 */
interface Segment {
  field: string;
  each: boolean;
}

export type CompiledPath = readonly Segment[];

export interface FoundValue {
  value: unknown;
  location: string;
}

export function compilePath(path: string): CompiledPath {
  const segments = path.split('.').map((part) => {
    const each = part.endsWith('[]');
    const field = each ? part.slice(0, -2) : part;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) {
      throw new Error(`invalid path "${path}": segment "${part}" must be a field name, optionally followed by []`);
    }
    return { field, each };
  });
  return segments;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every value at `path` under `root`. The location of a value is written only
 * once it is found: a path that matches nothing in an array of thousands of
 * items builds no string for them.
 */
export function valuesAt(root: unknown, path: CompiledPath): FoundValue[] {
  const found: FoundValue[] = [];
  const indices: number[] = [];
  const locationOf = (): string => {
    let location = '';
    let each = 0;
    for (const segment of path) {
      location = location === '' ? segment.field : `${location}.${segment.field}`;
      if (segment.each) location += `[${indices[each++]}]`;
    }
    return location;
  };
  const walk = (node: unknown, index: number): void => {
    if (index === path.length) {
      if (node !== undefined && node !== null) found.push({ value: node, location: locationOf() });
      return;
    }
    if (!isRecord(node)) return;
    const segment = path[index]!;
    const child = node[segment.field];
    if (!segment.each) {
      walk(child, index + 1);
      return;
    }
    if (!Array.isArray(child)) return;
    const depth = indices.length;
    for (let i = 0; i < child.length; i++) {
      indices[depth] = i;
      walk(child[i], index + 1);
    }
    indices.length = depth;
  };
  walk(root, 0);
  return found;
}

const FIELD_NAME = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

// Objects nest far less than this; the bound keeps a hostile one from
// costing more than a fixed walk.
export const MAX_SCAN_DEPTH = 64;

/**
 * Every `backendRef` object and every item of a `backendRefs` array anywhere
 * under `root`: the fallback for kinds that have no row in the table.
 */
export function scanBackendRefs(root: unknown, rootLocation: string): { found: FoundValue[]; tooDeep: boolean } {
  const found: FoundValue[] = [];
  let tooDeep = false;
  const walk = (node: unknown, location: string, depth: number): void => {
    if (typeof node !== 'object' || node === null) return;
    if (depth > MAX_SCAN_DEPTH) {
      tooDeep = true;
      return;
    }
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) walk(node[i], `${location}[${i}]`, depth + 1);
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      // A field name is the sender's text: one that is not a plain name is
      // written quoted (`spec["a\nb"]`), so it cannot add lines to a message.
      const here = FIELD_NAME.test(key) ? `${location}.${key}` : `${location}[${JSON.stringify(key)}]`;
      if (key === 'backendRef' && isRecord(value)) found.push({ value, location: here });
      else if (key === 'backendRefs' && Array.isArray(value)) {
        value.forEach((item, i) => {
          if (isRecord(item)) found.push({ value: item, location: `${here}[${i}]` });
        });
      }
      walk(value, here, depth + 1);
    }
  };
  walk(root, rootLocation, 0);
  return { found, tooDeep };
}
