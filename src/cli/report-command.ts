import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { hasErrors } from '../model/diagnostics.js';
import { liveInventoryFrom, loadManifests } from '../manifests/index.js';
import { complianceReport } from '../report/compliance.js';
import { REPORT_FORMATS, renderReport, type ReportFormat } from '../report/render.js';
import { parseCommandArgs } from './args.js';
import { CONNECTION_USAGE, connectionOptions, observePool } from './connection.js';
import { printDiagnostics } from './diagnostics-output.js';
import { UserError } from './errors.js';
import { OPERATOR_CONFIG_USAGE, operatorConfigOptions, operatorSettings } from './operator-config.js';
import { planDesired } from './plan-desired.js';
import { REPO_ID_HELP, repoIdOption, repoIdentity } from './repo-identity.js';
import { alignOptions } from './usage.js';
import { POOL_SELECTION_USAGE, poolSelectionOptions } from '../fleet/per-pool.js';
import { poolsOf } from './plan-command.js';

const USAGE = alignOptions(`usage: xops report [DIR] [--out markdown|json|html] [connection options]

A compliance report of the pool against the manifests under DIR (default .): every declared
resource with its state (synced, drifted with the fields, missing, held, refused, ...), objects
xops manages that no manifest declares, the pool's objects xops does not manage, and the Git commit
DIR was at. Changes nothing. The report goes to stdout.

  --out FORMAT          markdown (default), json or html
${REPO_ID_HELP}
${POOL_SELECTION_USAGE}
                        (DIR is then the repository; Markdown leads with a table of pools ×
                        resource states; html takes one pool)

${CONNECTION_USAGE}

${OPERATOR_CONFIG_USAGE}`, 24);

const run_ = promisify(execFile);

/** The commit DIR's Git checkout is at (with a note when it has uncommitted changes), or undefined outside Git. */
export async function checkoutCommit(dir: string): Promise<string | undefined> {
  try {
    const opts = { timeout: 5000, maxBuffer: 1 << 20, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } };
    const head = (await run_('git', ['-C', dir, 'rev-parse', 'HEAD'], opts)).stdout.trim();
    const dirty = (await run_('git', ['-C', dir, 'status', '--porcelain', '--', '.'], opts)).stdout.trim() !== '';
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return undefined;
  }
}

/** `xops report [DIR]`: the compliance report against the live pool. Exit 0 when made, 1 on manifest errors. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(argv, { out: { type: 'string' }, ...repoIdOption, ...connectionOptions, ...operatorConfigOptions, ...poolSelectionOptions }, USAGE);
  if (help) return 0;
  if (positionals.length > 1) throw new UserError(`report takes one folder, got ${positionals.length} (see 'xops report --help')`);
  const out = (values.out ?? 'markdown') as ReportFormat;
  if (!REPORT_FORMATS.includes(out)) throw new UserError(`--out must be one of ${REPORT_FORMATS.join(', ')}, not '${String(values.out)}'`);
  const dir = positionals[0] ?? '.';
  const repo = repoIdentity(values);

  // A configuration listing pools: DIR is the repository, each pool reported from its own paths.
  const operator = await operatorSettings(values);
  const pools = poolsOf(operator, values.pool);
  if (pools.length) {
    const { reportPools } = await import('./report-pools.js');
    return reportPools(pools, { repoDir: dir, out, commit: await checkoutCommit(dir), repo, operator });
  }

  const observed = await observePool(values);
  const { desired, diagnostics } = await loadManifests(dir, { live: liveInventoryFrom(observed), limits: operator.config.repository });
  if (hasErrors(diagnostics)) {
    printDiagnostics(diagnostics);
    process.stderr.write(`xops: the manifests under ${dir} have errors; no report was made\n`);
    return 1;
  }
  // A report reads the actions and refusals only; observed.objects is for saved plans.
  const plan = await planDesired(desired, diagnostics, observed, { now: new Date(), repo, operator, objects: false });
  const report = complianceReport(desired, observed, plan, { commit: await checkoutCommit(dir), path: dir, repo });
  process.stdout.write(renderReport(report, out));
  return 0;
}
