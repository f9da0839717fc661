// Policies as the real loader produces them from YAML: locations, defaults and annotations are the
// loader's, not hand-made, so these catch a disagreement between the two stages.
import { describe, expect, it } from 'vitest';
import { loadManifestFiles } from '../../src/manifests/loader.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';
import { checkAdmission } from '../../src/policy/admission.js';
import { approvalHash } from '../../src/policy/approval.js';
import { applyAutomation } from '../../src/policy/automation.js';
import { effectiveSettings } from '../../src/policy/settings.js';
import { action, gates, plan } from './helpers.js';

const POLICY = `apiVersion: xops/v1
kind: Policy
metadata:
  name: production
spec:
  match:
    labels: { env: prod }
  admission:
    - name: owner-tag
      match: { kinds: [VM], labels: { env: prod } }
      require:
        properties:
          spec:
            required: [tags]
            properties:
              tags: { contains: { pattern: "^owner:" } }
      message: production VMs must carry an owner tag
    - name: memory-cap
      match: { kinds: [VM] }
      require: { properties: { spec: { properties: { memory: { maxSize: 64GiB } } } } }
      severity: warn
      message: VMs should stay under 64 GiB
  automation:
    drift: report
    maxDisruptive: 1
    windows:
      - schedule: "0 2 * * SAT"
        duration: 2h
        allow: [reboot]
`;

const vm = (name: string, extra: string) => `apiVersion: xops/v1
kind: VM
metadata:
  name: ${name}
  labels: { env: prod }
${extra}spec:
  template: Debian Bookworm 12
  vcpus: 2
  memory: 96GiB
  tags:
    - web
`;

function load(files: Record<string, string>) {
  return loadManifestFiles(
    Object.entries(files).map(([path, text]) => ({ path, content: Buffer.from(text) })),
    '/repo',
  );
}

describe('policies over manifests loaded from YAML', () => {
  it('admission points at the lines the operator wrote', () => {
    const { desired, diagnostics } = load({ 'policy.yaml': POLICY, 'vms/web01.yaml': vm('web01', '') });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(checkAdmission(desired).map(formatDiagnostic)).toEqual([
      'vms/web01.yaml:11:5: VM/web01: spec.tags: production VMs must carry an owner tag (Policy/production rule owner-tag): must contain at least 1 valid item(s)',
      'vms/web01.yaml:9:11: VM/web01: spec.memory: warning: VMs should stay under 64 GiB (Policy/production rule memory-cap): must be at most 64GiB',
    ]);
  });

  it('the loaded window duration (2h) and scope govern automation, and an annotation approves', () => {
    const reboot = action('VM/web01', { disruption: 'reboot' });
    const annotated = vm('web01', `  annotations:\n    xops.io/approve: ${approvalHash(reboot)}\n`);
    const { desired, diagnostics } = load({ 'policy.yaml': POLICY.replace('maxDisruptive: 1', 'maxDisruptive: 1\n    approval: [reboot]'), 'vms/web01.yaml': annotated });
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(effectiveSettings(desired, 'VM/web01')).toMatchObject({ drift: 'report', maxDisruptive: 1, approval: ['reboot'] });

    const saturday = (time: string) => ({ now: new Date(`2025-03-08T${time}Z`) });
    expect(gates(applyAutomation(plan([reboot]), desired, saturday('03:59:59.000')))).toEqual({ 'update:VM/web01': 'allowed' });
    expect(gates(applyAutomation(plan([reboot]), desired, saturday('04:00:00.000')))).toEqual({
      'update:VM/web01': 'outside maintenance window; next opens at 2025-03-15T02:00:00.000Z',
    });
  });
});
