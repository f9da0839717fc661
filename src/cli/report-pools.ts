import type { PoolConfig } from '../config/index.js';
import { poolFilesIn } from '../fleet/per-pool.js';
import { complianceReport, COMPLIANCE_STATES, type ComplianceReport } from '../report/compliance.js';
import { renderReport, type ReportFormat } from '../report/render.js';
import { printDiagnostics } from './diagnostics-output.js';
import { UserError } from './errors.js';
import type { OperatorSettings } from './operator-config.js';
import { observePool, planPoolWithCredentials, poolFailure } from './pool-plan.js';

/** What `xops report --config FILE [--pool NAME...]` needs besides the pools. */
export interface PoolReportOptions {
  repoDir: string;
  out: ReportFormat;
  /** The commit the repository folder is at, when it is a Git checkout. */
  commit?: string;
  repo: string;
  operator: OperatorSettings;
}

/**
 * A compliance report per pool, each against its own live pool from the union of its paths.
 * Markdown: a table of pools × resource states, then one section per pool; JSON: an array of
 * `{pool, report}`; HTML is one page for one pool (pick it with --pool). A pool that cannot be
 * reached or whose manifests have errors is reported on stderr and left out. Exit 1 when any was.
 */
export async function reportPools(pools: PoolConfig[], o: PoolReportOptions): Promise<number> {
  if (o.out === 'html' && pools.length > 1) throw new UserError(`--out html is one page per pool: choose one with --pool (pools: ${pools.map((p) => p.name).join(', ')})`);
  const reports: { pool: string; report: ComplianceReport }[] = [];
  let failed = false;
  const filesOf = poolFilesIn(o.repoDir, o.operator.config.repository);
  for (const pool of pools) {
    try {
      const observed = await observePool(pool);
      const read = await filesOf(pool);
      const planned = await planPoolWithCredentials(pool, read.files, read.diagnostics, observed, { root: o.repoDir, commit: 'local', repo: o.repo, operator: o.operator, now: new Date() });
      if (!planned.ok) {
        printDiagnostics(planned.diagnostics);
        process.stderr.write(`xops: pool ${pool.name}: the manifests under ${pool.paths.join(', ')} have errors; no report was made for it\n`);
        failed = true;
        continue;
      }
      reports.push({ pool: pool.name, report: complianceReport(planned.desired, observed, planned.plan, { commit: o.commit, path: `${o.repoDir} [${pool.paths.join(', ')}]`, repo: o.repo }) });
    } catch (err) {
      process.stderr.write(poolFailure(pool, err));
      failed = true;
    }
  }
  if (o.out === 'json') process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
  else if (o.out === 'html') for (const { report } of reports) process.stdout.write(renderReport(report, 'html'));
  else {
    process.stdout.write(`${statesTable(reports)}\n`);
    for (const { pool, report } of reports) process.stdout.write(`### Pool \`${pool}\`\n\n${renderReport(report, 'markdown')}\n`);
  }
  return failed ? 1 : 0;
}

/** Per pool, how many declared resources are in each state (only the states some pool has). */
function statesTable(reports: { pool: string; report: ComplianceReport }[]): string {
  const states = COMPLIANCE_STATES.filter((s) => reports.some(({ report }) => report.summary[s] > 0));
  const columns = [...states, 'undeclared', 'unmanaged'];
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const rows = reports.map(({ pool, report }) => row([pool, ...states.map((s) => report.summary[s]), report.undeclared.length, report.unmanaged.length]));
  return [row(['pool', ...columns]), `|---|${columns.map(() => '---:|').join('')}`, ...rows].join('\n') + '\n';
}
