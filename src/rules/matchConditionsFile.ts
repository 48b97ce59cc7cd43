import type { chartMatchConditions } from './matchConditions.js';

/** Where the chart keeps the generated conditions, from the repository root. */
export const CHART_MATCH_CONDITIONS_FILE = 'charts/kgateway-admission/files/match-conditions.json';

/** The file's text: the generator's output, with a note that it is generated. */
export function chartMatchConditionsText(conditions: ReturnType<typeof chartMatchConditions>): string {
  return `${JSON.stringify({ generatedBy: 'npm run generate:match-conditions (src/rules/matchConditions.ts); do not edit', ...conditions }, null, 2)}\n`;
}
