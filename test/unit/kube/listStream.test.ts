import { describe, expect, it } from 'vitest';
import { ListStream } from '../../../src/kube/listStream.js';

function read(text: string, chunkSizes: number[]): { items: unknown[]; sizes: number[]; list: unknown } {
  const items: unknown[] = [];
  const sizes: number[] = [];
  const stream = new ListStream((item, bytes) => {
    items.push(item);
    sizes.push(bytes);
  });
  let at = 0;
  for (let k = 0; at < text.length; k++) {
    const size = chunkSizes[k % chunkSizes.length]!;
    stream.write(text.slice(at, at + size));
    at += size;
  }
  return { items, sizes, list: stream.end() };
}

const tricky = [
  { metadata: { name: 'a', annotations: { note: 'braces } ] { [ and "quotes" and \\ backslashes \\"' } }, spec: { items: [1, 2], backendRefs: [{ name: 'x' }] } },
  { metadata: { name: 'b' }, spec: { text: 'unicode ✓ 𝄞 "items":[' } },
  { metadata: { name: 'c' } },
];

describe('ListStream: a list response read item by item', () => {
  it.each([[[1]], [[2, 3, 5]], [[7]], [[64]], [[100_000]]])('gives every item and the metadata whatever the chunking (%j)', (chunks) => {
    const list = { kind: 'XList', apiVersion: 'v1', metadata: { resourceVersion: '42', continue: 'tok"en' }, items: tricky };
    const text = JSON.stringify(list, null, chunks[0] === 7 ? 2 : undefined);
    const got = read(text, chunks);
    expect(got.items).toEqual(tricky);
    expect(got.list).toEqual({ kind: 'XList', apiVersion: 'v1', metadata: { resourceVersion: '42', continue: 'tok"en' }, items: [] });
    expect(got.sizes.every((n) => n > 0)).toBe(true);
  });

  it('metadata after the items, an empty list, and no items field at all', () => {
    expect(read('{"items":[{"a":1}],"metadata":{"resourceVersion":"7"}}', [3])).toEqual({ items: [{ a: 1 }], sizes: [7], list: { items: [], metadata: { resourceVersion: '7' } } });
    expect(read('{"metadata":{},"items":[]}', [4]).items).toEqual([]);
    expect(read('{"metadata":{"resourceVersion":"1"},"items":null}', [5]).list).toEqual({ metadata: { resourceVersion: '1' }, items: null });
  });

  it('only the top-level items are split: an "items" key inside an item or in metadata is part of it', () => {
    const got = read('{"metadata":{"items":[1]},"items":[{"items":[{"x":1}]}]}', [6]);
    expect(got.items).toEqual([{ items: [{ x: 1 }] }]);
    expect(got.list).toEqual({ metadata: { items: [1] }, items: [] });
  });

  it('refuses what is not a list of objects, and a response cut short', () => {
    expect(() => read('{"items":[1,2]}', [100])).toThrow('a list item is not a JSON object');
    expect(() => read('{"items":[{"a":1},{"b":', [100])).toThrow('ended inside a value');
    expect(() => read('{"items":[{"a":1}', [3])).toThrow('ended inside a value');
    expect(() => read('', [1])).toThrow();
    expect(() => read('{"items":[{"a":}]}', [100])).toThrow(SyntaxError);
  });

  it('never holds more than one item: what is kept besides the current item is the list without items', () => {
    const big = 'x'.repeat(1_000_000);
    const items = Array.from({ length: 20 }, (_, i) => ({ metadata: { name: `n${i}` }, spec: { big } }));
    const stream = new ListStream(() => {});
    const text = JSON.stringify({ metadata: { resourceVersion: '1' }, items });
    for (let at = 0; at < text.length; at += 65_536) stream.write(text.slice(at, at + 65_536));
    const rest = (stream as unknown as { rest: string }).rest;
    expect(rest.length).toBeLessThan(100);
    expect(stream.end()).toEqual({ metadata: { resourceVersion: '1' }, items: [] });
  });
});
