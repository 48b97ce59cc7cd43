import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv, Options } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';

// The SARIF 2.1.0 schema (OASIS, rtm.5: the standard's final text), as
// @microsoft/jest-sarif ships it. It is JSON Schema draft-04, hence ajv-draft-04.
// Both are CommonJS with a default export, loaded as such.
const require = createRequire(import.meta.url);
const Ajv04 = (require('ajv-draft-04') as { default: new (options: Options) => Ajv }).default;
const addFormats = (require('ajv-formats') as { default: FormatsPlugin }).default;
const schemaPath = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

export function sarifValidator() {
  // unicodeRegExp off: the schema's language-tag pattern has a stray `]` that
  // only a non-Unicode regular expression accepts (as draft-04 validators read it).
  const ajv = new Ajv04({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
}
