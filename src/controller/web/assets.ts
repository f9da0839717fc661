/*
 * The page's assets, kept as strings so `tsc` ships them inside the package (no copy step, no CDN,
 * works offline). The script is plain DOM: every name and value from the pool or the repository is
 * inserted with textContent / createTextNode, never as HTML, so nothing in them can run.
 */

/** The page's HTML shell; the script fills `#pools` from the event stream. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xops</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<header><h1>xops</h1><span id="conn" class="conn" data-state="connecting">connecting…</span></header>
<main id="pools"><p class="muted">Waiting for the controller…</p></main>
</body>
</html>
`;

/** The login form shown when a token is configured and the request carries none (or a wrong one). */
export function loginPage(wrong: boolean): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>xops: sign in</title>
<link rel="stylesheet" href="/ui/app.css"></head>
<body><header><h1>xops</h1></header>
<main><form class="login" method="post" action="/login">
<label for="token">Read-only token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Show the pools</button>
${wrong ? '<p class="bad">That token is not the one configured.</p>' : ''}
</form></main></body></html>
`;
}

/** The page's style: readable on a phone (tables scroll sideways, nothing wider than the screen). */
export const PAGE_CSS = `:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f23;--muted:#6a737d;--line:#d0d7de;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--info:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8b949e;--line:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#58a6ff}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:1rem;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
h1{font-size:1.2rem;margin:0}
h2{font-size:1.15rem;margin:1.2rem 0 .4rem}
h3{font-size:1rem;margin:1rem 0 .3rem}
main{padding:0 1rem 2rem;max-width:72rem}
.muted{color:var(--muted)}
.conn{font-size:.85rem;color:var(--muted)}
.conn[data-state=live]{color:var(--ok)}
.conn[data-state=lost]{color:var(--bad)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.3rem 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td{overflow-wrap:anywhere}
code{font:.85rem ui-monospace,SFMono-Regular,Menlo,monospace}
.state{display:inline-block;padding:0 .45rem;border-radius:.7rem;border:1px solid currentColor;font-size:.8rem;white-space:nowrap}
.state-synced,.result-success{color:var(--ok)}
.state-progressing,.state-missing{color:var(--info)}
.state-drifted,.state-held{color:var(--warn)}
.state-refused,.state-denied,.state-failed,.result-failure,.result-invalid,.bad{color:var(--bad)}
.disruption{font-size:.8rem;padding:0 .35rem;border-radius:.3rem;background:var(--line)}
.disruption-reboot,.disruption-downtime{color:var(--warn)}
.disruption-destructive{color:var(--bad)}
form.login{display:flex;flex-direction:column;gap:.5rem;max-width:20rem;margin-top:1rem}
input,button{font:inherit;padding:.4rem}
@media (max-width:40rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.3rem}}
`;

/** The page's script (an ES module): renders every `view` event of `/events` into `#pools`. */
export const PAGE_SCRIPT = `// xops status page: plain DOM, text only (names and values are untrusted).
const STATES = ['failed', 'denied', 'refused', 'held', 'drifted', 'missing', 'progressing', 'synced'];

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const code = (s) => h('code', null, s ?? '—');
function facts(rows) {
  return h('dl', { class: 'facts' }, rows.filter((r) => r).flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}
function table(name, heads, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'muted', 'data-section': name }, empty);
  return h('div', { class: 'scroll' }, h('table', { 'data-section': name }, h('thead', null, h('tr', null, heads.map((x) => h('th', null, x)))), h('tbody', null, rows)));
}
function releases(held) {
  if (held.releasesAt) return ['the next window, opening ', h('time', { datetime: held.releasesAt }, when(held.releasesAt))];
  if (/approv/i.test(held.reason)) return 'an approval (xops.io/approve)';
  return 'a change of policy or pool';
}

function pool(p) {
  const s = p.status;
  const counts = {};
  for (const r of s.resources) counts[r.state] = (counts[r.state] || 0) + 1;
  const last = s.lastReconcile;
  return h('section', { class: 'pool', 'data-pool': p.name },
    h('h2', null, p.name),
    h('p', { class: 'counts' }, STATES.filter((k) => counts[k]).map((k) => [h('span', { class: 'state state-' + k }, counts[k] + ' ' + k), ' '])),
    facts([
      ['Commit in force', code(s.commit)],
      ['Newest seen', code(s.source.latestCommit)],
      ['Source', s.source.description],
      s.source.lastSyncError && ['Sync error', h('span', { class: 'bad' }, s.source.lastSyncError)],
      s.rejected && ['Rejected', h('span', { class: 'bad' }, s.rejected.commit + ': ', s.rejected.diagnostics.join('; '))],
      ['Last reconcile', last ? h('span', null, h('span', { class: 'result-' + last.result }, last.result), ' at ' + when(last.finishedAt) + ' (' + last.trigger.join(', ') + ', ' + last.durationMs + ' ms; ' + last.actions.planned + ' planned, ' + last.actions.applied + ' applied, ' + last.actions.failed + ' failed, ' + last.actions.held + ' held)') : '—'],
      last && last.error && ['Error', h('span', { class: 'bad' }, last.error)],
      s.nextRetryAt && ['Next retry', when(s.nextRetryAt) + ' (' + s.consecutiveFailures + ' failures)'],
      ['XAPI', s.xapi.reachable ? 'reachable' : h('span', { class: 'bad' }, 'unreachable' + (s.xapi.lastError ? ': ' + s.xapi.lastError : ''))],
      s.lease && ['Lease', s.lease.held ? 'held by this controller until ' + when(s.lease.expiresAt) : 'held by ' + (s.lease.heldBy || '?') + ' until ' + when(s.lease.expiresAt)],
      s.standby && ['Standby', s.standby],
    ]),
    h('h3', null, 'Resources'),
    table('resources', ['Resource', 'State', 'Reason'], s.resources.map((r) =>
      h('tr', { 'data-address': r.address, 'data-state': r.state }, h('td', null, code(r.address)), h('td', null, h('span', { class: 'state state-' + r.state }, r.state)), h('td', null, r.reason || ''))), 'No resources declared.'),
    h('h3', null, 'Last plan'),
    p.plan ? h('p', { class: 'muted' }, 'Planned ' + when(p.plan.createdAt) + (p.plan.total > p.plan.actions.length ? ' (first ' + p.plan.actions.length + ' of ' + p.plan.total + ' actions)' : '')) : null,
    table('plan', ['Resource', 'Action', 'Disruption', 'Fields', 'Gate'], (p.plan ? p.plan.actions : []).map((a) =>
      h('tr', { 'data-address': a.address }, h('td', null, code(a.address)), h('td', null, a.operation + (a.drift ? ' (drift)' : '')), h('td', null, h('span', { class: 'disruption disruption-' + a.disruption }, a.disruption)),
        h('td', null, a.fields.map((x) => [code(x), ' '])), h('td', null, a.held ? 'held' : 'allowed'))), 'Nothing to do in the last plan.'),
    h('h3', null, 'Held actions'),
    table('held', ['Resource', 'Disruption', 'Policy', 'Why', 'Released by'], s.held.map((x) =>
      h('tr', { 'data-address': x.address }, h('td', null, code(x.address)), h('td', null, h('span', { class: 'disruption' }, x.disruption)), h('td', null, x.policy), h('td', null, x.reason), h('td', null, releases(x)))), 'Nothing held.'),
    h('h3', null, 'Drift'),
    table('drift', ['Resource', 'Fields', 'Outcome'], s.drift.map((d) =>
      h('tr', { 'data-address': d.address }, h('td', null, code(d.address)), h('td', null, d.paths.map((x) => [code(x), ' '])), h('td', null, d.healed ? 'healed' : 'reported, not healed'))), 'No drift in the last reconcile.'),
    h('h3', null, 'History'),
    table('history', ['Finished', 'Commit', 'Trigger', 'Result', 'Actions', 'Drift', 'Errors'], p.history.map((e) =>
      h('tr', null, h('td', null, when(e.finishedAt)), h('td', null, code(e.commit)), h('td', null, e.trigger.join(', ')), h('td', { class: 'result-' + e.result }, e.result),
        h('td', null, e.actions.planned + ' planned, ' + e.actions.succeeded + ' ok, ' + e.actions.failed + ' failed, ' + e.actions.held + ' held'),
        h('td', null, e.drift.found + ' found, ' + e.drift.healed + ' healed'), h('td', null, e.errors.join('; ')))), 'No reconcile yet.'),
  );
}

function render(view) {
  const main = document.getElementById('pools');
  main.replaceChildren(...(view.pools.length ? view.pools.map(pool) : [h('p', { class: 'muted' }, 'No pools.')]));
  main.dataset.updated = String(Date.now());
}

const conn = document.getElementById('conn');
function connection(state, text) {
  conn.dataset.state = state;
  conn.textContent = text;
}
const events = new EventSource('/events');
events.addEventListener('view', (e) => {
  render(JSON.parse(e.data));
  connection('live', 'live · ' + new Date().toLocaleTimeString());
});
events.addEventListener('error', () => connection('lost', 'connection lost, retrying…'));
`;
