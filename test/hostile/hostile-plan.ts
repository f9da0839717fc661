import type { Plan } from '../../src/model/plan.js';

/**
 * What a hostile pool or repository can put into a plan: an object named with an ANSI escape, a
 * terminal-title sequence, C1 CSI, a bidi override, a newline; Markdown and HTML that would break
 * a pull-request comment (`|`, backticks, `<script>`, `@mention`, a closing code fence).
 */
export const EVIL = {
  ansi: 'web\x1b[2J\x1b[31mred',
  title: 'db\x1b]0;pwned\x07',
  csi: 'c1\u009b31m',
  bidi: 'evil\u202e1gpj.exe',
  newline: 'line1\nVM/fake will be deleted',
  table: 'a|b`c`<script>alert(1)</script>@admins',
  fence: 'x\n```\n<img src=x onerror=alert(1)>\n```',
};

/** A plan whose every printed name, path, value and reason carries one of `EVIL`. */
export function hostilePlan(): Plan {
  const gate = { state: 'held' as const, policy: `Policy/${EVIL.title}`, reason: `window ${EVIL.csi}` };
  return {
    formatVersion: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    source: { commit: '0123456789abcdef', path: `repo${EVIL.ansi}` },
    observed: { token: 't', objects: {} } as unknown as Plan['observed'],
    actions: [
      {
        id: `VM/${EVIL.table}#update`,
        address: `VM/${EVIL.table}`,
        kind: 'VM',
        name: EVIL.table,
        operation: 'update',
        disruption: 'reboot',
        reason: `because ${EVIL.newline}`,
        changes: [
          { path: `spec.otherConfig.${EVIL.bidi}`, from: EVIL.ansi, to: EVIL.fence, disruption: 'reboot', reason: `it ${EVIL.table}` },
        ],
        dependsOn: [],
        objects: [],
        gate,
      },
    ],
    refused: [{ address: `VM/${EVIL.ansi}`, path: `spec.${EVIL.title}`, reason: `refused ${EVIL.table}`, from: EVIL.csi, to: EVIL.newline }],
    diagnostics: [{ severity: 'error', code: 'invalid', message: `name ${EVIL.fence} ${EVIL.ansi}`, location: { file: `vms/${EVIL.newline}.yaml`, line: 1, col: 1 } }],
  };
}
