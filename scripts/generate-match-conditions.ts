#!/usr/bin/env node
// Writes the webhooks' matchConditions, as src/rules/matchConditions.ts
// generates them from the table of kinds, to the chart, which renders them
// (helm cannot run TypeScript). test/unit/rules/matchConditions.test.ts fails
// when the file and the generator differ: run `npm run generate:match-conditions`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtInBackendRefKinds } from '#dist/rules/backendRefKinds.js';
import { chartMatchConditions } from '#dist/rules/matchConditions.js';
import { CHART_MATCH_CONDITIONS_FILE, chartMatchConditionsText } from '#dist/rules/matchConditionsFile.js';

const file = join(import.meta.dirname, '..', CHART_MATCH_CONDITIONS_FILE);
writeFileSync(file, chartMatchConditionsText(chartMatchConditions(builtInBackendRefKinds)));
console.log(`wrote ${CHART_MATCH_CONDITIONS_FILE}`);
