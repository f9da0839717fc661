import { COMPLIANCE_STATES, type ComplianceReport, type PoolObject, type ReportedResource } from './compliance.js';

/** Output formats of `xops report`. */
export const REPORT_FORMATS = ['markdown', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The report in `format`. Every name and value is escaped for the format (they come from the pool and the repository). */
export function renderReport(report: ComplianceReport, format: ReportFormat): string {
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  return format === 'html' ? renderHtml(report) : renderMarkdown(report);
}

function counts(report: ComplianceReport): string {
  return COMPLIANCE_STATES.filter((s) => report.summary[s] > 0).map((s) => `${report.summary[s]} ${s}`).join(', ') || 'no resources';
}

function fieldsLine(r: ReportedResource): string {
  return (r.fields ?? []).map((f) => `${f.path}: ${f.pool} → ${f.manifest}`).join('; ');
}

function objectName(o: PoolObject): string {
  return `${o.cls} ${o.name || '(unnamed)'} (${o.uuid})${o.repo ? `, managed by repository ${o.repo} as ${o.address}` : ''}`;
}

/** Markdown cell text: no line breaks, pipes and markup characters escaped. */
function md(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/[\\`*_{}[\]()<>#+!|~]/g, (c) => `\\${c}`);
}

function renderMarkdown(r: ComplianceReport): string {
  const lines = [
    `# Compliance report: pool ${md(r.pool.name || r.pool.uuid)}`,
    '',
    `- Commit: ${r.commit ? md(r.commit) : 'unknown (not a Git checkout)'}`,
    `- Manifests: ${md(r.path)}`,
    `- Made at: ${r.createdAt}`,
    `- Resources: ${counts(r)}`,
    '',
    '## Declared resources',
    '',
  ];
  if (r.resources.length === 0) lines.push('None declared.');
  else {
    lines.push('| Resource | State | Why | Fields |', '|---|---|---|---|');
    for (const x of r.resources) lines.push(`| ${md(x.address)} | ${x.state} | ${md(x.reason ?? '')} | ${md(fieldsLine(x))} |`);
  }
  lines.push('', '## Managed by xops, declared by no manifest', '');
  lines.push(...(r.undeclared.length ? r.undeclared.map((a) => `- ${md(a)}`) : ['None.']));
  lines.push('', '## Not managed by this repository', '');
  lines.push(...(r.unmanaged.length ? r.unmanaged.map((o) => `- ${md(objectName(o))}`) : ['None.']));
  return lines.join('\n') + '\n';
}

/** HTML text or attribute value, escaped. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function renderHtml(r: ComplianceReport): string {
  const rows = r.resources
    .map((x) => `<tr data-state="${x.state}"><td><code>${esc(x.address)}</code></td><td>${x.state}</td><td>${esc(x.reason ?? '')}</td><td>${esc(fieldsLine(x))}</td></tr>`)
    .join('\n');
  const list = (items: string[]) => (items.length ? `<ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '<p>None.</p>');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Compliance report: ${esc(r.pool.name || r.pool.uuid)}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:1rem;max-width:72rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ccc;vertical-align:top;overflow-wrap:anywhere}</style>
</head><body>
<h1>Compliance report: pool ${esc(r.pool.name || r.pool.uuid)}</h1>
<ul><li>Commit: ${r.commit ? `<code>${esc(r.commit)}</code>` : 'unknown (not a Git checkout)'}</li><li>Manifests: ${esc(r.path)}</li><li>Made at: ${esc(r.createdAt)}</li><li>Resources: ${esc(counts(r))}</li></ul>
<h2>Declared resources</h2>
${r.resources.length ? `<table><thead><tr><th>Resource</th><th>State</th><th>Why</th><th>Fields</th></tr></thead><tbody>\n${rows}\n</tbody></table>` : '<p>None declared.</p>'}
<h2>Managed by xops, declared by no manifest</h2>
${list(r.undeclared)}
<h2>Not managed by this repository</h2>
${list(r.unmanaged.map(objectName))}
</body></html>
`;
}
