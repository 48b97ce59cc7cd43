import { execFileSync } from 'node:child_process';

/** Tests that run the CLI as a process need dist/ to match src/. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
