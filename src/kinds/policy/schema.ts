import type { Ajv } from 'ajv';
import { newAjv } from '../../manifests/ajv.js';
import { addSizeKeywords } from '../../policy/size-keywords.js';
import type { AdmissionRule, AutomationSettings, DesiredPolicy, DisruptionClass, Match } from '../../model/desired.js';
import { ALL_KINDS } from '../../model/kinds.js';
import { cronProblem } from '../../manifests/cron.js';
import { closedObject, documentSchema, ref, type JsonSchema } from '../../manifests/schema-kit.js';
import type { BuildContext, KindDefinition } from '../../manifests/build-context.js';

interface PolicySpec {
  match?: Match;
  admission?: { name: string; match?: Match; require: object; severity?: 'deny' | 'warn'; message?: string }[];
  automation?: Omit<AutomationSettings, 'windows' | 'rollout'> & {
    rollout?: { maxUnavailable: number | `${number}%`; healthyAfter?: number | string };
    windows?: { name?: string; schedule: string; duration: number | string; timezone?: string; allow: DisruptionClass[] }[];
  };
}

/** The longest `rollout.healthyAfter`, in seconds: a rollout that waits longer per batch is a mistake. */
export const MAX_HEALTHY_AFTER = 6 * 3600;

const DISRUPTIONS = ['reboot', 'downtime', 'destructive'];
const disruptionList = (description: string): JsonSchema => ({
  type: 'array',
  items: { enum: DISRUPTIONS },
  uniqueItems: true,
  description,
});

const MATCH = closedObject(
  {
    kinds: { type: 'array', items: { enum: [...ALL_KINDS] }, uniqueItems: true, description: 'Kinds matched (default: all).' },
    labels: ref('stringMap', 'Labels every matched manifest carries with these values.'),
    names: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Names or glob patterns (web-*) matched.' },
  },
  [],
  { description: 'Which manifests this applies to; absent lists match everything.' },
);

/** Admission rules (checked at validate time) and automation settings (windows, budgets, approvals). */
export const policySchema: KindDefinition<DesiredPolicy> = {
  kind: 'Policy',
  schemaFile: 'policy.schema.json',
  schema: documentSchema(
    'Policy',
    'admission rules and automation settings',
    'Admission rules deny or warn about manifests that fail a JSON Schema; automation settings say what xops may do unattended, and when.',
    closedObject({
      match: MATCH,
      admission: {
        type: 'array',
        description: 'Rules every matching manifest must pass.',
        items: closedObject(
          {
            name: { type: 'string', minLength: 1, description: 'Rule name, unique in the policy.' },
            match: MATCH,
            require: { type: 'object', description: 'A JSON Schema the whole manifest document (as written) must satisfy.' },
            severity: { enum: ['deny', 'warn'], default: 'deny', description: 'deny fails validation; warn only reports.' },
            message: { type: 'string', description: 'What to tell the author when the rule fails.' },
          },
          ['name', 'require'],
        ),
      },
      automation: closedObject(
        {
          drift: { enum: ['heal', 'report'], description: 'On drift: put the pool back (heal) or only report it.' },
          prune: { type: 'boolean', description: 'Delete managed objects whose manifests were removed.' },
          adopt: { type: 'boolean', description: 'Take over unmanaged objects whose names match a manifest.' },
          windows: {
            type: 'array',
            description: 'Maintenance windows: when disruptive actions may run.',
            items: closedObject(
              {
                name: { type: 'string', description: 'Window name, for messages.' },
                schedule: { type: 'string', description: 'Five-field cron expression for when the window opens, e.g. `0 2 * * SUN`.' },
                duration: ref('duration', 'How long the window stays open, e.g. 2h.'),
                timezone: { type: 'string', description: 'IANA time zone of the schedule (default: UTC).' },
                allow: { ...disruptionList('Disruptions allowed in the window.'), minItems: 1 },
              },
              ['schedule', 'duration', 'allow'],
            ),
          },
          maxDisruptive: { type: 'integer', minimum: 0, description: 'At most this many reboot/downtime actions per reconcile.' },
          approval: disruptionList('Disruptions that need an approval annotation at the applied commit.'),
          snapshotBefore: disruptionList('Disruptions before which the VM is snapshotted.'),
          snapshotRetain: { type: 'integer', minimum: 1, maximum: 1000, description: 'Pre-change snapshots (xops-pre-*) kept per VM; older ones are deleted after each new one. Default: all kept.' },
          rollout: closedObject(
            {
              maxUnavailable: {
                type: ['integer', 'string'],
                minimum: 1,
                maximum: 10000,
                pattern: '^(100|[1-9][0-9]?)%$',
                patternErrorMessage: 'must be a number of VMs (1 or more) or a percentage from 1% to 100%, e.g. 25%',
                description: 'VMs of the set rebooted at once: a count, or a percentage of the VMs this Policy selects (1% to 100%, at least one VM).',
              },
              healthyAfter: ref('duration', `How long a rebooted VM must stay healthy (guest metrics back, readiness address if declared) before the next batch starts, e.g. 2m. Default 0, at most ${MAX_HEALTHY_AFTER / 3600}h.`),
            },
            ['maxUnavailable'],
            { description: 'Reboot changes over the VMs this Policy selects run in batches; the first failure holds the rest.' },
          ),
        },
        [],
        { description: 'What xops may do unattended.' },
      ),
    }),
  ),
  inspect(raw, ctx) {
    // Schema-independent, so a bad cron or require is reported even beside other schema errors.
    const spec = (isRecord(raw) ? raw : {}) as { admission?: unknown; automation?: unknown };
    const names = new Map<string, number>();
    (Array.isArray(spec.admission) ? spec.admission : []).forEach((rule: unknown, i) => {
      if (!isRecord(rule)) return;
      const path = `spec.admission[${i}]`;
      if (typeof rule.name === 'string') {
        const first = names.get(rule.name);
        if (first !== undefined) ctx.error(`${path}.name`, `rule name '${rule.name}' is already used by spec.admission[${first}]`, 'duplicate-name');
        else names.set(rule.name, i);
      }
      if (isRecord(rule.require)) checkRequireSchema(rule.require, `${path}.require`, ctx);
    });
    const automation = isRecord(spec.automation) ? spec.automation : {};
    (Array.isArray(automation.windows) ? automation.windows : []).forEach((w: unknown, i) => {
      if (!isRecord(w)) return;
      const path = `spec.automation.windows[${i}]`;
      if (typeof w.schedule === 'string') {
        const problem = cronProblem(w.schedule);
        if (problem) ctx.error(`${path}.schedule`, problem, 'cron');
      }
      if (typeof w.timezone === 'string' && !validTimeZone(w.timezone)) {
        ctx.error(`${path}.timezone`, `'${w.timezone}' is not an IANA time zone (e.g. Europe/Paris, UTC)`);
      }
    });
  },
  build(raw, meta, ctx) {
    const spec = raw as unknown as PolicySpec;
    const admission: AdmissionRule[] = (spec.admission ?? []).map((rule) => ({
      name: rule.name,
      match: rule.match ?? {},
      require: rule.require,
      severity: rule.severity ?? 'deny',
      message: rule.message ?? `violates admission rule '${rule.name}'`,
    }));
    let automation: AutomationSettings | undefined;
    if (spec.automation) {
      const { windows, rollout, ...rest } = spec.automation;
      automation = { ...rest };
      if (rollout) {
        const path = 'spec.automation.rollout.healthyAfter';
        const healthyAfter = rollout.healthyAfter === undefined ? 0 : (ctx.duration(rollout.healthyAfter, path) ?? 0);
        if (healthyAfter > MAX_HEALTHY_AFTER) ctx.error(path, `healthyAfter must be at most ${MAX_HEALTHY_AFTER / 3600}h`);
        automation.rollout = { maxUnavailable: rollout.maxUnavailable, healthyAfter };
      }
      if (windows) {
        automation.windows = windows.map((w, i) => {
          const path = `spec.automation.windows[${i}]`;
          const duration = ctx.duration(w.duration, `${path}.duration`);
          if (duration === 0) ctx.error(`${path}.duration`, 'a window needs a duration above zero');
          return {
            ...(w.name !== undefined ? { name: w.name } : {}),
            schedule: w.schedule,
            duration: duration ?? 0,
            ...(w.timezone !== undefined ? { timezone: w.timezone } : {}),
            allow: w.allow,
          };
        });
      }
    }
    return {
      kind: 'Policy',
      meta,
      spec: {
        ...(spec.match !== undefined ? { match: spec.match } : {}),
        admission,
        ...(automation ? { automation } : {}),
      },
    };
  },
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

let schemaChecker: Ajv | undefined;

/**
 * An admission rule's `require` must compile, or the rule would silently never deny. Strict mode
 * also catches misspelt keywords (`requried`, `minimun`) that admission (which compiles leniently)
 * would silently ignore. Formats and the size keywords admission offers (maxSize, minSize) are known.
 */
function checkRequireSchema(schema: object, path: string, ctx: BuildContext): void {
  if (!schemaChecker) {
    schemaChecker = newAjv({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, logger: false }, true);
    addSizeKeywords(schemaChecker);
  }
  try {
    schemaChecker.compile(schema);
  } catch (err) {
    // ajv lists every failed meta-schema branch; the first says what is wrong, in require's terms.
    const message = (err as Error).message.replace(/^schema is invalid: /, '').split(', ')[0].replace(/^data\b/, 'require');
    ctx.error(path, `not a valid JSON Schema: ${message}`, 'invalid-schema');
  } finally {
    schemaChecker.removeSchema(schema);
  }
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
