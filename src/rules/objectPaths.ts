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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function valuesAt(root: unknown, path: CompiledPath): FoundValue[] {
  const found: FoundValue[] = [];
  const walk = (node: unknown, index: number, location: string): void => {
    if (index === path.length) {
      if (node !== undefined && node !== null) found.push({ value: node, location });
      return;
    }
    if (!isRecord(node)) return;
    const segment = path[index]!;
    const child = node[segment.field];
    const here = location === '' ? segment.field : `${location}.${segment.field}`;
    if (!segment.each) {
      walk(child, index + 1, here);
      return;
    }
    if (!Array.isArray(child)) return;
    for (let i = 0; i < child.length; i++) walk(child[i], index + 1, `${here}[${i}]`);
  };
  walk(root, 0, '');
  return found;
}
