#!/usr/bin/env node
import { ManifestError } from '../cluster/manifests.js';
import { ConfigError } from '../config/config.js';
import { AUDIT_USAGE, runAudit } from './audit.js';
import { CERTS_USAGE, runCerts } from './certs.js';
import { CHECK_USAGE, runCheck } from './check.js';
import { runServe, SERVE_USAGE } from './serve.js';
import { CommandError, UsageError } from './usage.js';

const USAGE = `Usage: kgateway-admission <command> [options]

Commands:
  serve   run the admission webhook (HTTPS)
  check   evaluate manifest files offline, as the webhook would
  audit   list what in a live cluster breaks the rules
  certs   write a CA and a serving certificate

Run "kgateway-admission <command> --help" for a command's options.

${SERVE_USAGE}

${CHECK_USAGE}

${AUDIT_USAGE}

${CERTS_USAGE}`;

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
      return runAudit(args, out);
    case 'certs':
      return runCerts(args, out);
    case '--help':
    case '-h':
    case 'help':
      out(USAGE);
      return 0;
    default:
      throw new UsageError(command === undefined ? `no command given\n\n${USAGE}` : `unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
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
