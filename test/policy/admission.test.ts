import { describe, expect, it } from 'vitest';
import { formatDiagnostic, type Diagnostic } from '../../src/model/diagnostics.js';
import type { AdmissionRule, RawDocument } from '../../src/model/desired.js';
import { checkAdmission } from '../../src/policy/admission.js';
import { desired, loc, policy, rawDoc } from './helpers.js';

// Rules an operator would write (the examples).
const ownerTag: AdmissionRule = {
  name: 'owner-tag',
  match: { kinds: ['VM'], labels: { env: 'prod' } },
  require: {
    properties: { spec: { required: ['tags'], properties: { tags: { contains: { pattern: '^owner:' } } } } },
  },
  severity: 'deny',
  message: 'production VMs must carry an owner tag',
};
const memoryCap: AdmissionRule = {
  name: 'memory-cap',
  match: { kinds: ['VM'] },
  require: { properties: { spec: { properties: { memory: { maxSize: '64GiB' } } } } },
  severity: 'deny',
  message: 'VMs get at most 64 GiB',
};
const sharedSR: AdmissionRule = {
  name: 'shared-sr',
  match: { kinds: ['SR'], labels: { pool: 'prod' } },
  require: { properties: { spec: { required: ['shared'], properties: { shared: { const: true } } } } },
  severity: 'warn',
  message: 'prod SRs should be shared',
};

const prodWeb = (spec: unknown): RawDocument =>
  rawDoc('VM', 'web01', {
    labels: { env: 'prod' },
    spec,
    file: 'vms/web.yaml',
    line: 3,
    locations: {
      spec: loc('vms/web.yaml', 8, 3),
      'spec.tags': loc('vms/web.yaml', 12, 5),
      'spec.tags[0]': loc('vms/web.yaml', 13, 9),
      'spec.memory': loc('vms/web.yaml', 10, 11),
    },
  });

describe('checkAdmission', () => {
  const cases: {
    why: string;
    rules: AdmissionRule[];
    docs: RawDocument[];
    expected: Partial<Diagnostic>[];
    noPath?: boolean;
  }[] = [
    {
      why: 'a matching document that satisfies the rule is admitted silently',
      rules: [ownerTag],
      docs: [prodWeb({ tags: ['owner:alice'] })],
      expected: [],
    },
    {
      why: 'deny → error at the failing value (the tags list), so the operator sees the line to fix',
      rules: [ownerTag],
      docs: [prodWeb({ tags: ['web'] })],
      expected: [
        {
          severity: 'error',
          code: 'admission',
          address: 'VM/web01',
          path: 'spec.tags',
          location: loc('vms/web.yaml', 12, 5),
        },
      ],
    },
    {
      why: 'a missing property points at the object that lacks it, and names the property in the path',
      rules: [ownerTag],
      docs: [prodWeb({ memory: 1024 })],
      expected: [{ severity: 'error', path: 'spec.tags', location: loc('vms/web.yaml', 8, 3) }],
    },
    {
      why: 'label selectors scope a rule: a staging VM without an owner tag is not checked',
      rules: [ownerTag],
      docs: [rawDoc('VM', 'web02', { labels: { env: 'staging' }, spec: {} })],
      expected: [],
    },
    {
      why: 'kind selectors scope a rule: an SR is not a VM',
      rules: [ownerTag],
      docs: [rawDoc('SR', 'data', { labels: { env: 'prod' }, spec: {} })],
      expected: [],
    },
    {
      why: 'sizes are compared as bytes whatever unit the manifest uses: 65 GiB is over 64 GiB',
      rules: [memoryCap],
      docs: [prodWeb({ tags: ['owner:a'], memory: '65GiB' })],
      expected: [{ severity: 'error', path: 'spec.memory', location: loc('vms/web.yaml', 10, 11) }],
    },
    {
      why: 'exactly 64 GiB written in bytes is within the cap',
      rules: [memoryCap],
      docs: [prodWeb({ memory: 64 * 2 ** 30 })],
      expected: [],
    },
    {
      why: '65536 MiB is the same as 64 GiB, so it passes',
      rules: [memoryCap],
      docs: [prodWeb({ memory: '65536MiB' })],
      expected: [],
    },
    {
      why: 'warn → warning, not an error: the plan is not blocked',
      rules: [sharedSR],
      docs: [rawDoc('SR', 'local', { labels: { pool: 'prod' }, spec: { shared: false }, file: 'srs.yaml', line: 20 })],
      // No location recorded for spec.shared: falls back to the document's start.
      expected: [{ severity: 'warning', path: 'spec.shared', location: loc('srs.yaml', 20) }],
    },
    {
      why: 'a name glob selects a family of manifests; others are left alone',
      rules: [{ ...memoryCap, match: { names: ['db-*'] } }],
      docs: [
        rawDoc('VM', 'db-main', { spec: { memory: '128GiB' } }),
        rawDoc('VM', 'web-main', { spec: { memory: '128GiB' } }),
      ],
      expected: [{ address: 'VM/db-main', path: 'spec.memory' }],
    },
    {
      why: 'a rule failing at the root (a `not`) points at the document itself, with no path',
      rules: [
        {
          name: 'no-legacy',
          match: { kinds: ['VM'] },
          require: { not: { properties: { metadata: { properties: { name: { const: 'legacy' } } } } } },
          severity: 'deny',
          message: 'legacy is retired',
        },
      ],
      docs: [rawDoc('VM', 'legacy', { file: 'vms.yaml', line: 40 })],
      expected: [{ address: 'VM/legacy', location: loc('vms.yaml', 40) }],
      noPath: true,
    },
    {
      why: 'every rule is checked against every document: two failures, two diagnostics',
      rules: [ownerTag, memoryCap],
      docs: [prodWeb({ tags: [], memory: '1TiB' })],
      expected: [{ path: 'spec.tags' }, { path: 'spec.memory' }],
    },
  ];

  it.each(cases)('$why', ({ rules, docs, expected, noPath }) => {
    const diags = checkAdmission(desired([policy('guardrails', { admission: rules })], docs));
    expect(diags).toHaveLength(expected.length);
    diags.forEach((d, i) => expect(d).toMatchObject(expected[i]));
    if (noPath) expect(diags.map((d) => d.path)).toEqual(diags.map(() => undefined));
  });

  it('prints as file:line:col: address: path: rule message, naming the policy and rule, then the ajv detail', () => {
    const [d] = checkAdmission(desired([policy('guardrails', { admission: [memoryCap] })], [prodWeb({ memory: '65GiB' })]));
    expect(formatDiagnostic(d)).toBe(
      'vms/web.yaml:10:11: VM/web01: spec.memory: VMs get at most 64 GiB (Policy/guardrails rule memory-cap): must be at most 64GiB',
    );
  });

  it('a value that is not a size fails a size bound instead of slipping through', () => {
    const [d] = checkAdmission(desired([policy('p', { admission: [memoryCap] })], [prodWeb({ memory: 'lots' })]));
    expect(d.message).toMatch(/is not a size/);
  });

  it('enum failures list the allowed values so the fix is obvious', () => {
    const rule: AdmissionRule = {
      name: 'sr-types',
      match: { kinds: ['SR'] },
      require: { properties: { spec: { properties: { type: { enum: ['nfs', 'lvmoiscsi'] } } } } },
      severity: 'deny',
      message: 'only network storage',
    };
    const [d] = checkAdmission(desired([policy('p', { admission: [rule] })], [rawDoc('SR', 'x', { spec: { type: 'ext' } })]));
    expect(d.message).toContain('"nfs", "lvmoiscsi"');
  });

  it('label keys that are not identifiers are quoted in the path, and located when the loader recorded them', () => {
    const rule: AdmissionRule = {
      name: 'team-label',
      match: {},
      require: {
        properties: { metadata: { properties: { labels: { properties: { 'xops.io/team': { enum: ['ops', 'web'] } } } } } },
      },
      severity: 'deny',
      message: 'unknown team',
    };
    const doc = rawDoc('VM', 'web01', {
      labels: { 'xops.io/team': 'sales' },
      locations: { 'metadata.labels["xops.io/team"]': loc('vms.yaml', 6, 19) },
    });
    const [d] = checkAdmission(desired([policy('p', { admission: [rule] })], [doc]));
    expect(d).toMatchObject({ path: 'metadata.labels["xops.io/team"]', location: loc('vms.yaml', 6, 19) });
  });

  it('rules of every Policy apply, each diagnostic naming its own policy', () => {
    const diags = checkAdmission(
      desired(
        [policy('a', { admission: [memoryCap] }), policy('b', { admission: [{ ...memoryCap, severity: 'warn' }] })],
        [prodWeb({ memory: '100GiB' })],
      ),
    );
    expect(diags.map((d) => [d.severity, d.message.match(/Policy\/\w+/)?.[0]])).toEqual([
      ['error', 'Policy/a'],
      ['warning', 'Policy/b'],
    ]);
  });
});

describe('checkAdmission on the Policies themselves', () => {
  const policyDocLocations = {
    'spec.admission[0].require': loc('policies.yaml', 9, 7),
    'spec.automation.windows[1].schedule': loc('policies.yaml', 30, 19),
  };
  const withLocations = (docs: RawDocument[]) => docs.map((d) => (d.kind === 'Policy' ? { ...d, locations: policyDocLocations } : d));

  it('a require that is not a JSON Schema is an error at the rule, not a crash', () => {
    const bad: AdmissionRule = { ...memoryCap, require: { type: 'no-such-type' } };
    const state = desired([policy('p', { admission: [bad] })], [prodWeb({})]);
    state.documents = withLocations(state.documents);
    expect(checkAdmission(state)).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'policy',
        address: 'Policy/p',
        path: 'spec.admission[0].require',
        location: loc('policies.yaml', 9, 7),
      }),
    ]);
  });

  it('a window whose schedule cannot be read is an error at that schedule', () => {
    const state = desired([
      policy('p', {
        automation: {
          windows: [
            { schedule: '0 2 * * 6', duration: 3600, allow: ['reboot'] },
            { name: 'weekday', schedule: '0 2 * * mon-fry', duration: 3600, allow: ['reboot'] },
          ],
        },
      }),
    ]);
    state.documents = withLocations(state.documents);
    const diags = checkAdmission(state);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({
      code: 'policy',
      path: 'spec.automation.windows[1].schedule',
      location: loc('policies.yaml', 30, 19),
    });
    expect(diags[0].message).toContain('weekday');
  });
});
