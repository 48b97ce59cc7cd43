import { ManifestError } from '../cluster/manifests.js';
import { ConfigError } from '../config/config.js';
import { CERTS_USAGE, runCerts } from './certs.js';
import { CHECK_USAGE, runCheck } from './check.js';
import { COMPLETION_USAGE, runCompletion } from './completion.js';
import { runServe, SERVE_USAGE } from './serve.js';
import { CommandError, UsageError } from './usage.js';
import { packageVersion } from './version.js';

const usage = async (): Promise<string> => `Usage: kgateway-admission <command> [options]
       kgateway-admission --version

Commands:
  serve   run the admission webhook (HTTPS)
  check   evaluate manifest files offline, as the webhook would
  audit   list what in a live cluster breaks the rules
  certs   write a CA and a serving certificate
  completion  print a bash or zsh completion script

Run "kgateway-admission <command> --help" for a command's options.

${SERVE_USAGE}

${CHECK_USAGE}

${(await import('./audit.js')).AUDIT_USAGE}

${CERTS_USAGE}

${COMPLETION_USAGE}`;

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'serve':
      return runServe(args);
    case 'check':
      return runCheck(args, out);
    case 'audit':
      // Lazily: only audit and a live serve load @kubernetes/client-node.
      return (await import('./audit.js')).runAudit(args, out);
    case 'certs':
      return runCerts(args, out);
    case 'completion':
      return runCompletion(args, out);
    case '--version':
    case '-v':
    case 'version':
      out(await packageVersion());
      return 0;
    case '--help':
    case '-h':
    case 'help':
      out(await usage());
      return 0;
    default:
      throw new UsageError(command === undefined ? `no command given\n\n${await usage()}` : `unknown command ${JSON.stringify(command)}\n\n${await usage()}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const known = error instanceof UsageError || error instanceof CommandError || error instanceof ManifestError || error instanceof ConfigError;
    process.stderr.write(`kgateway-admission: ${known ? (error as Error).message : (error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 2;
  },
);
