import { hasErrors, type Diagnostic } from '../model/diagnostics.js';
import { loadManifests, liveInventoryFrom, type LiveInventory } from '../manifests/index.js';
import { checkAdmission } from '../policy/index.js';
import { parseCommandArgs, str } from './args.js';
import { operatorChecks } from '../config/checks.js';
import { operatorConfigOptions, operatorSettings } from './operator-config.js';
import { CONNECTION_USAGE, connectionOptions, observePool } from './connection.js';
import { printDiagnostics } from './diagnostics-output.js';
import { UserError } from './errors.js';
import { alignOptions } from './usage.js';
import { noManifestsWarning } from './no-manifests.js';
import { uncheckedReferenceWarnings } from './offline-references.js';
import { poolSelectionOptions } from '../fleet/per-pool.js';
import { poolsOf } from './plan-command.js';
import { validatePools } from './validate-pools.js';

const USAGE = alignOptions(`usage: xops validate [DIR] [--out text|json] [--offline] [connection options]

Checks the manifests under DIR (default .): YAML, schemas, names, references, inline secrets and
admission policies. With a pool to talk to (--xapi or XOPS_XAPI_URL), references that name no
manifest are checked against the pool; --offline skips that.
Offline, each reference that no manifest declares is a warning naming it. A folder without
manifests is a warning too.
Exit status: 0 when there are no errors (warnings allowed), 1 otherwise.

  --out text|json   text: one line per problem on stderr, a summary on stdout (default);
                    json: {ok, summary, diagnostics} on stdout, and {ok: false, error} when
                    the pool cannot be reached
  --offline         do not contact the pool even if XOPS_XAPI_URL is set
  --pool NAME       with --config listing pools: DIR is the repository and each pool's paths
                    are checked (default every pool, one section each); repeatable

${CONNECTION_USAGE}`, 24);

/** `xops validate [DIR]`: every problem in the manifests, one line each; exit 0 clean, 1 with errors. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    { out: { type: 'string', default: 'text' }, offline: { type: 'boolean' }, ...connectionOptions, ...operatorConfigOptions, ...poolSelectionOptions },
    USAGE,
  );
  if (help) return 0;
  if (positionals.length > 1) throw new UserError(`validate takes one folder, got ${positionals.length} (see 'xops validate --help')`);
  const out = values.out;
  if (out !== 'text' && out !== 'json') throw new UserError(`--out must be text or json, not '${String(out)}'`);
  const dir = positionals[0] ?? '.';
  // A configuration listing pools: DIR is the repository, each pool checked from its own paths.
  const fleetOperator = await operatorSettings(values);
  const pools = poolsOf(fleetOperator, values.pool);
  if (pools.length) return validatePools(pools, { repoDir: dir, out, offline: values.offline === true, operator: fleetOperator });

  let live: LiveInventory | undefined;
  try {
    live = values.offline ? undefined : await liveInventory(values);
  } catch (err) {
    if (out !== 'json' || !(err instanceof UserError)) throw err;
    process.stdout.write(JSON.stringify({ ok: false, error: err.message, summary: null, diagnostics: [] }, null, 2) + '\n');
    return 1;
  }
  const operator = await operatorSettings(values);
  const { desired, diagnostics: loadDiagnostics } = await loadManifests(dir, { ...(live ? { live } : {}), limits: operator.config.repository });
  const diagnostics: Diagnostic[] = [
    ...noManifestsWarning(dir, desired, loadDiagnostics),
    ...loadDiagnostics,
    ...checkAdmission(desired),
    ...operatorChecks(desired, operator.config, [str(values['password-file'])]),
    ...(live ? [] : uncheckedReferenceWarnings(desired)),
  ];
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const summary = {
    documents: desired.documents.length,
    files: new Set(desired.documents.map((d) => d.source.file)).size,
    errors,
    warnings,
    liveChecked: live !== undefined,
  };

  if (out === 'json') {
    process.stdout.write(JSON.stringify({ ok: !hasErrors(diagnostics), summary, diagnostics }, null, 2) + '\n');
  } else {
    printDiagnostics(diagnostics);
    const counts = `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
    const where = `${plural(summary.documents, 'manifest')} in ${plural(summary.files, 'file')}`;
    process.stdout.write(`${errors ? 'invalid' : 'valid'}: ${where}; ${counts}${live ? '' : ' (references to pool objects not checked: offline)'}\n`);
  }
  return hasErrors(diagnostics) ? 1 : 0;
}

/** The pool's inventory when a pool is configured (flag or environment), else undefined. */
async function liveInventory(values: Record<string, unknown>): Promise<LiveInventory | undefined> {
  if (values.xapi === undefined && !process.env.XOPS_XAPI_URL) return undefined;
  return liveInventoryFrom(await observePool(values));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
