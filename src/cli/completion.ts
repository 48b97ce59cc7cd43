import { PROFILE_NAMES } from '../rules/profiles.js';
import { OUTPUT_FORMATS } from './reportFormats/output.js';
import { UsageError } from './usage.js';

export const COMPLETION_USAGE = `Usage: kgateway-admission completion bash|zsh

Prints a shell completion script for commands, options, their values and files.

Examples:
  kgateway-admission completion bash > /etc/bash_completion.d/kgateway-admission
  source <(kgateway-admission completion bash)
  kgateway-admission completion zsh > "\${fpath[1]}/_kgateway-admission"`;

/** What an option's value is: a file, a folder, one of some words, or free text. */
type Value = 'file' | 'dir' | readonly string[] | 'text' | undefined;

interface CommandSpec {
  description: string;
  options: Record<string, Value>;
  /** What the positional arguments are. */
  operands?: 'files' | readonly string[];
}

const OUTPUT: Record<string, Value> = { output: OUTPUT_FORMATS, 'output-file': 'file' };

/** The commands and options as each command's parseArgs takes them (a test keeps this true to their --help). */
export const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    description: 'run the admission webhook (HTTPS)',
    options: {
      host: 'text',
      port: 'text',
      'metrics-port': 'text',
      'health-port': 'text',
      'metrics-host': 'text',
      config: 'file',
      profile: PROFILE_NAMES,
      'tls-cert': 'file',
      'tls-key': 'file',
      'client-ca': 'file',
      'certs-dir': 'dir',
      manifests: 'file',
      kubeconfig: 'file',
      'self-managed-certs': undefined,
      namespace: 'text',
      'secret-name': 'text',
      'service-name': 'text',
      'webhook-config': 'text',
      events: undefined,
      reports: undefined,
      'reports-lease-seconds': 'text',
      help: undefined,
    },
  },
  check: {
    description: 'evaluate manifest files offline, as the webhook would',
    options: {
      ...OUTPUT,
      output: [...OUTPUT_FORMATS, 'policyreport'],
      config: 'file',
      profile: PROFILE_NAMES,
      namespace: 'text',
      kubeconfig: 'file',
      context: 'text',
      'warn-exit-code': 'text',
      quiet: undefined,
      help: undefined,
    },
    operands: 'files',
  },
  audit: {
    description: 'list what in a live cluster breaks the rules',
    options: { kubeconfig: 'file', context: 'text', namespace: 'text', ...OUTPUT, output: [...OUTPUT_FORMATS, 'html'], config: 'file', profile: PROFILE_NAMES, 'warn-exit-code': 'text', help: undefined },
  },
  certs: { description: 'write a CA and a serving certificate', options: { out: 'dir', host: 'text', days: 'text', help: undefined } },
  completion: { description: 'print a bash or zsh completion script', options: { help: undefined }, operands: ['bash', 'zsh'] },
};

/** The short forms parseArgs takes for options with a value. */
const SHORT: Record<string, string> = { output: 'o' };

const TOP_LEVEL = [...Object.keys(COMMANDS), 'help', 'version', '--help', '--version'];

function bashScript(): string {
  const optionCases = Object.entries(COMMANDS)
    .map(([name, spec]) => `    ${name}) options="${Object.keys(spec.options).map((o) => `--${o}`).join(' ')}" ;;`)
    .join('\n');
  const valueCases: string[] = [];
  const byValue = new Map<string, Set<string>>();
  for (const spec of Object.values(COMMANDS)) {
    for (const [option, value] of Object.entries(spec.options)) {
      if (value === undefined) continue;
      const action =
        value === 'file' ? 'COMPREPLY=($(compgen -f -- "$cur"))' : value === 'dir' ? 'COMPREPLY=($(compgen -d -- "$cur"))' : value === 'text' ? 'COMPREPLY=()' : `COMPREPLY=($(compgen -W "${value.join(' ')}" -- "$cur"))`;
      const names = byValue.get(action) ?? new Set<string>();
      names.add(`--${option}`);
      if (SHORT[option]) names.add(`-${SHORT[option]}`);
      byValue.set(action, names);
    }
  }
  for (const [action, options] of byValue) valueCases.push(`    ${[...options].join('|')}) ${action}; return ;;`);
  const operandCases = Object.entries(COMMANDS)
    .filter(([, spec]) => spec.operands)
    .map(([name, spec]) => `    ${name}) ${spec.operands === 'files' ? 'COMPREPLY=($(compgen -f -- "$cur"))' : `COMPREPLY=($(compgen -W "${spec.operands!.join(' ')}" -- "$cur"))`} ;;`)
    .join('\n');
  return `# bash completion for kgateway-admission: source <(kgateway-admission completion bash)
_kgateway_admission() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" options=""
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${TOP_LEVEL.join(' ')}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${optionCases}
  esac
  case "$prev" in
${valueCases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${operandCases}
  esac
}
complete -o filenames -F _kgateway_admission kgateway-admission
`;
}

function zshQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function zshScript(): string {
  const commands = Object.entries(COMMANDS)
    .map(([name, spec]) => `    ${zshQuote(`${name}:${spec.description}`)}`)
    .join('\n');
  const cases = Object.entries(COMMANDS)
    .map(([name, spec]) => {
      const specs = Object.entries(spec.options).map(([option, value]) => {
        const action = value === undefined ? '' : value === 'file' ? ':file:_files' : value === 'dir' ? ':folder:_files -/' : value === 'text' ? ':value: ' : `:value:(${value.join(' ')})`;
        return zshQuote(`--${option}[${option}]${action}`);
      });
      if (spec.operands === 'files') specs.push(zshQuote('*:manifest:_files'));
      else if (spec.operands) specs.push(zshQuote(`1:shell:(${spec.operands.join(' ')})`));
      return `    ${name}) _arguments ${specs.join(' ')} ;;`;
    })
    .join('\n');
  return `#compdef kgateway-admission
# zsh completion for kgateway-admission: kgateway-admission completion zsh > "\${fpath[1]}/_kgateway-admission"
_kgateway_admission() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local command=$words[2]
  shift words
  (( CURRENT-- ))
  case $command in
${cases}
  esac
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _kgateway_admission "$@"
else
  compdef _kgateway_admission kgateway-admission
fi
`;
}

export function runCompletion(args: string[], out: (text: string) => void): number {
  const [shell, ...rest] = args;
  if (shell === '--help' || shell === '-h') {
    out(COMPLETION_USAGE);
    return 0;
  }
  if (rest.length > 0 || (shell !== 'bash' && shell !== 'zsh')) throw new UsageError(`completion: name one shell, bash or zsh\n\n${COMPLETION_USAGE}`);
  out((shell === 'bash' ? bashScript() : zshScript()).trimEnd());
  return 0;
}
