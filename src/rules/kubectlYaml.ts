import { Document, visit } from 'yaml';

/*
 * kubectl reads YAML with go-yaml v2 (through sigs.k8s.io/yaml), a YAML 1.1
 * reader: a plain `name: on` is the bool true there, and the API server then
 * refuses the object ("cannot unmarshal bool into Go struct field"). The
 * `yaml` library's 1.1 schema quotes every string that 1.1 reads as a bool,
 * null, int, float or timestamp; go-yaml v2 also hands a plain scalar that
 * starts with a digit or sign to Go's strconv, which reads more than YAML 1.1
 * does. Those forms are quoted here.
 * See resolve() in resolve.go of go.yaml.in/yaml/v2 (v2.4.3, what
 * sigs.k8s.io/yaml v1.6 wraps; gopkg.in/yaml.v2 before it reads the same).
 */

/** strconv.ParseInt/ParseUint with base 0, after go-yaml v2 drops every `_`: 0x/0X, 0o/0O, 0b/0B, leading-0 octal, decimal. */
const GO_INT = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)$/;
/** go-yaml v2's yamlStyleFloat, tried on the same `_`-less text. */
const GO_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** Whether go-yaml v2 reads this plain scalar as something other than the string. */
export function goYamlV2ReadsAsNonString(text: string): boolean {
  if (!/^[-+0-9.]/.test(text)) return false;
  const plain = text.startsWith('.') ? text : text.replaceAll('_', '');
  return GO_INT.test(plain) || GO_FLOAT.test(plain);
}

const GO_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE']);
const GO_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE']);
const GO_NULL = new Set(['', '~', 'null', 'Null', 'NULL']);
const GO_SPECIAL_FLOATS = new Map<string, number>([
  ...['.nan', '.NaN', '.NAN'].map((t) => [t, Number.NaN] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((t) => [t, Number.POSITIVE_INFINITY] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((t) => [t, Number.NEGATIVE_INFINITY] as const),
]);
/** strconv.ParseInt(s, 0, 64)'s syntax: a sign, then 0x/0o/0b, a leading-0 octal, or decimal. */
const GO_INT_PARTS = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))$/;
/** strconv.ParseFloat on a scalar that starts with `.`. */
const GO_DOT_FLOAT = /^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/;

/**
 * What go-yaml v2 makes of a plain (unquoted, untagged) scalar, as kubectl
 * reads it: resolve() in resolve.go. Bools, nulls and the special floats by
 * table; a scalar starting with a digit or sign goes, without its `_`, to
 * strconv (ints in every Go base prefix, leading-0 octal), then to the
 * YAML-style float pattern; everything else is the string. A timestamp is
 * kept as its text when decoded into interface{}, as kubectl decodes.
 */
export function goYamlV2Scalar(text: string): string | number | boolean | null {
  if (GO_NULL.has(text)) return null;
  if (GO_TRUE.has(text)) return true;
  if (GO_FALSE.has(text)) return false;
  const special = GO_SPECIAL_FLOATS.get(text);
  if (special !== undefined) return special;
  if (text.startsWith('.')) return GO_DOT_FLOAT.test(text) ? Number(text) : text;
  if (!/^[-+0-9]/.test(text)) return text;
  const plain = text.replaceAll('_', '');
  const int = GO_INT_PARTS.exec(plain);
  if (int) {
    const [, sign, hex, octal, binary, leadingZero, decimal] = int;
    const value =
      hex !== undefined ? parseInt(hex, 16)
      : octal !== undefined ? parseInt(octal, 8)
      : binary !== undefined ? parseInt(binary, 2)
      : leadingZero !== undefined ? (leadingZero === '' ? 0 : parseInt(leadingZero, 8))
      : parseInt(decimal!, 10);
    return sign === '-' ? -value : value;
  }
  if (GO_FLOAT.test(plain)) return Number(plain);
  return text;
}

/**
 * YAML for `kubectl apply -f -` that every YAML 1.1 reader (kubectl's among
 * them) reads back as exactly `object`: each string that such a reader would
 * take for a bool, null, number or timestamp is quoted.
 */
export function kubectlYaml(object: unknown): string {
  const document = new Document(object, { version: '1.1' });
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && goYamlV2ReadsAsNonString(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return document.toString({ lineWidth: 0 });
}
