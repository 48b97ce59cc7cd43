/**
 * Reads a Kubernetes list response (`{"kind":…,"metadata":{…},"items":[…]}`)
 * as it arrives, handing over each item as soon as its closing brace is in,
 * so a page is never held whole: neither as text nor parsed. One page of 70
 * objects of 1.4 MB was 100 MB of text and 270 MB parsed, past the chart's
 * 256 MiB limit (issue 21 item 4); read this way it costs one object at a time.
 *
 * Everything outside `items` (kind, apiVersion, metadata with resourceVersion
 * and continue) is kept as text and parsed at the end. Only the top-level
 * `items` array is split; anything else is JSON.parse's to judge.
 */
export class ListStream {
  /** The response without the items' text: parsed at the end for metadata. */
  private rest = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The last string closed at depth 1 (a top-level key), to find `"items"`. */
  private keyStart = -1;
  private lastKey = '';
  private lastKeyParts: string[] = [];
  /** Depth of the items array once entered (1 inside the top object, so 2 inside the array); 0 outside. */
  private itemsDepth = 0;
  private itemParts: string[] = [];
  private inItem = false;

  constructor(private readonly onItem: (item: Record<string, unknown>, bytes: number) => void) {}

  /** Feeds the next piece of the response text. */
  write(chunk: string): void {
    let from = 0;
    const n = chunk.length;
    // The next backslash at or after i, found once per stretch: searching it
    // again for every string would rescan the chunk (quadratic).
    let slash = -2;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        // Jump to the next quote or backslash: object text is mostly strings.
        const quote = chunk.indexOf('"', i);
        if (slash !== -1 && slash < i) slash = chunk.indexOf('\\', i);
        if (slash !== -1 && (quote === -1 || slash < quote)) {
          this.escaped = true;
          i = slash + 1;
          continue;
        }
        if (quote === -1) break;
        this.inString = false;
        i = quote + 1;
        if (this.keyStart !== -1) {
          this.lastKeyParts.push(chunk.slice(this.keyStart, i));
          this.lastKey = this.lastKeyParts.join('');
          this.lastKeyParts = [];
          this.keyStart = -1;
        }
        continue;
      }
      const c = chunk.charCodeAt(i);
      const atItems = this.itemsDepth > 0 && this.depth === this.itemsDepth && !this.inItem;
      if (atItems && c > 0x20 && c !== 0x2c /* , */ && c !== 0x5d /* ] */) {
        if (c !== 0x7b /* { */) throw new Error('a list item is not a JSON object');
        this.rest += chunk.slice(from, i);
        from = i;
        this.inItem = true;
      }
      if (c === 0x22 /* " */) {
        this.inString = true;
        // Strings at the top level are keys or short values: the last one names what follows.
        if (this.depth === 1) {
          this.keyStart = i;
          this.lastKeyParts = [];
        }
      } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        this.depth++;
        if (c === 0x5b && this.depth === 2 && this.itemsDepth === 0 && this.lastKey === '"items"') this.itemsDepth = 2;
      } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        this.depth--;
        if (this.inItem && this.depth === this.itemsDepth) {
          this.itemParts.push(chunk.slice(from, i + 1));
          from = i + 1;
          this.endItem();
        } else if (this.itemsDepth > 0 && this.depth === this.itemsDepth - 1) {
          this.itemsDepth = -1; // the items array closed
        }
      } else if (c === 0x2c /* , */ && atItems) {
        // A comma between items: dropped with them.
        this.rest += chunk.slice(from, i);
        from = i + 1;
      }
      i++;
    }
    if (this.inString && this.keyStart !== -1) {
      this.lastKeyParts.push(chunk.slice(this.keyStart));
      this.keyStart = 0;
    }
    if (this.inItem) this.itemParts.push(chunk.slice(from));
    else this.rest += chunk.slice(from);
  }

  /** The list without its items, once the whole response is in. */
  end(): { metadata?: { resourceVersion?: string; continue?: string } } & Record<string, unknown> {
    if (this.inItem || this.depth !== 0 || this.inString) throw new Error('list response ended inside a value');
    if (this.itemsDepth === 0 && this.rest.trim() === '') throw new Error('list response is empty');
    const parsed: unknown = JSON.parse(this.rest);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('list response is not a JSON object');
    return parsed as Record<string, unknown>;
  }

  private endItem(): void {
    const text = this.itemParts.join('');
    this.itemParts = [];
    this.inItem = false;
    const item: unknown = JSON.parse(text);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error('a list item is not a JSON object');
    this.onItem(item as Record<string, unknown>, text.length);
  }
}
