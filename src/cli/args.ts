import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fsErrorInWords } from './errno.js';
import { UserError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `xops plan` from `usage: xops plan [DIR] ...`, for error lines that point at the right --help. */
function commandOf(usage: string): string {
  return /^usage: (xops(?: [a-z-]+)?)/.exec(usage)?.[1] ?? 'xops';
}

/**
 * node's parseArgs message as one line a person reads: `unknown option '--bogus'`, without its
 * advice about positionals that start with '-'.
 */
export function argumentProblem(message: string): string {
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown option '${unknown[1]}'`;
  const missing = /^Option '(-\w, )?(--[\w-]+)[^']*' argument missing/.exec(message);
  if (missing) return `option '${missing[2]}' needs a value`;
  const noValue = /^Option '(-\w, )?(--[\w-]+)' does not take an argument/.exec(message);
  if (noValue) return `option '${noValue[2]}' takes no value`;
  return message.split('\n')[0].replace(/\.$/, '');
}

/**
 * Parses a subcommand's argv with node's parseArgs, turning its exceptions into one-line UserErrors
 * (`unknown option '--bogus' (see 'xops plan --help')`) and answering --help with the given usage text.
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
    throw new UserError(`${argumentProblem((err as Error).message)} (see '${commandOf(usage)} --help')`);
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
    throw new UserError(`${flag}: cannot read ${file}: ${fsErrorInWords(err)}`);
  }
}
