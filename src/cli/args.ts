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
