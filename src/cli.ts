#!/usr/bin/env node
import { UserError } from './cli/errors.js';
import { isXapiClientError } from './xapi/errors.js';

/** Subcommands, each in `src/cli/<name>-command.ts` exporting `run(argv): Promise<number>`. */
const COMMANDS: Record<string, string> = {
  sim: 'start a simulated XAPI pool',
  validate: 'check manifests: schemas, references, admission policies',
  plan: 'show what apply would change, and what it would cost',
  apply: 'make the pool match the manifests (or a saved plan)',
  diff: 'plan a pull request: what the change between two refs introduces',
  run: 'the controller: keep pools in the state Git declares',
  export: 'write manifests for what a pool already has',
  'import-ova': 'write VM and Disk manifests for an OVA/OVF appliance',
  report: 'a compliance report: each resource in sync, drifted, held or refused',
  approve: 'approve a held action, by its hash, through a running controller',
};

const USAGE = `usage: xops <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, what]) => `  ${name.padEnd(10)} ${what}`)
  .join('\n')}

Run 'xops <command> --help' for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!name) {
    // Not what was asked for: a problem, so on stderr.
    process.stderr.write(USAGE + '\n');
    return 1;
  }
  if (name === '--version') {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    process.stdout.write(`xops ${pkg.version}\n`);
    return 0;
  }
  if (name.startsWith('-')) {
    process.stderr.write(`xops: unknown option '${name}' before the command (see 'xops --help')\n`);
    return 1;
  }
  if (!(name in COMMANDS)) {
    process.stderr.write(`xops: unknown command '${name}' (see 'xops --help')\n`);
    return 1;
  }
  const mod = (await import(`./cli/${name}-command.js`)) as { run(argv: string[]): Promise<number> };
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // User errors are one clear line; anything else is a bug and keeps its stack.
    // The XAPI client's failures (a pool that hangs, drips or answers garbage) are already one line.
    if (err instanceof UserError || isXapiClientError(err)) process.stderr.write(`xops: ${err.message}\n`);
    else process.stderr.write(`xops: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
