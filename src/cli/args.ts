import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a subcommand's argv with node's parseArgs, turning its exceptions into one-line UserErrors
 * and answering --help with the given usage text.
 */
export function parseCommandArgs<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    const parsed = values as Record<string, string | boolean | string[] | undefined>;
    if (parsed.help) process.stdout.write(usage + '\n');
    return { values: parsed, positionals, help: Boolean(parsed.help) };
  } catch (err) {
    throw new UserError(`${(err as Error).message}\n${usage}`);
  }
}

/** A string flag's value; an empty string counts as not given. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The text of a file a flag names (a password, a secret), without its final newline. */
export async function readFlagFile(flag: string, file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new UserError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
