/**
 * Reads GitHub Actions workflow commands as the runner does (actions/runner
 * src/Runner.Common/ActionCommand.cs, TryParseV2): a line starting with `::`,
 * the command info up to the next `::`, its name up to the first space,
 * properties split on `,` then on the first `=`, each value unescaped as a
 * property, the rest of the line unescaped as data. Only the annotation
 * commands are registered here, as a runner has them.
 */
export interface WorkflowCommand {
  command: string;
  properties: Record<string, string>;
  data: string;
}

const ANNOTATION_COMMANDS = new Set(['error', 'warning', 'notice', 'debug']);

function unescape(text: string, mappings: readonly [token: string, replacement: string][]): string {
  let out = text;
  for (const [token, replacement] of mappings) out = out.split(replacement).join(token);
  return out;
}

const DATA: [string, string][] = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  ['%', '%25'],
];
const PROPERTY: [string, string][] = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  [':', '%3A'],
  [',', '%2C'],
  ['%', '%25'],
];

export function parseWorkflowCommand(line: string): WorkflowCommand | undefined {
  const message = line.trimStart();
  if (!message.startsWith('::')) return undefined;
  const end = message.indexOf('::', 2);
  if (end < 0) return undefined;
  const info = message.slice(2, end);
  const space = info.indexOf(' ');
  const command = space < 0 ? info : info.slice(0, space);
  if (!ANNOTATION_COMMANDS.has(command)) return undefined;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const property of info.slice(space + 1).trim().split(',').filter(Boolean)) {
      const at = property.indexOf('=');
      if (at <= 0 || at === property.length - 1) continue;
      properties[property.slice(0, at)] = unescape(property.slice(at + 1), PROPERTY);
    }
  }
  return { command, properties, data: unescape(message.slice(end + 2), DATA) };
}
