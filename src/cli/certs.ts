import { generateCertificates } from '../certificates/generate.js';
import { writeCertificates } from '../certificates/files.js';
import { integerOption, parseCommandArgs, UsageError } from './usage.js';

export const CERTS_USAGE = `Usage: kgateway-admission certs --out DIR --host NAME [--host NAME...] [--days N]

Writes a private CA (ca.crt, ca.key) and a serving certificate it signed
(tls.crt, tls.key) for the given DNS names and IP addresses, e.g.
--host kgateway-admission.kgateway-system.svc --host 127.0.0.1. --days: 1-3650, default 365.

Example:
  kgateway-admission certs --out certs/ --host kgateway-admission.kgateway-system.svc --host 127.0.0.1`;

export async function runCerts(args: string[], out: (text: string) => void): Promise<number> {
  const { values } = parseCommandArgs(
    'certs',
    args,
    {
      out: { type: 'string' },
      host: { type: 'string', multiple: true },
      days: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    out(CERTS_USAGE);
    return 0;
  }
  if (!values.out) throw new UsageError(`certs: --out DIR is required\n\n${CERTS_USAGE}`);
  const hosts = values.host ?? [];
  if (hosts.length === 0) throw new UsageError(`certs: give at least one --host\n\n${CERTS_USAGE}`);
  const days = integerOption('days', values.days, 1, 3650) ?? 365;
  await writeCertificates(values.out, await generateCertificates(hosts, days));
  out(`wrote ca.crt, ca.key, tls.crt, tls.key to ${values.out} for ${hosts.join(', ')} (valid ${days} days)`);
  return 0;
}
