/**
 * Which template a VM was made from, from what XAPI records on the VM: `other_config
 * ["base_template_name"]` (the template's name_label when it was cloned) and `reference_label`
 * (copied from the template on clone: a label that stays when the template is renamed). Pure: used
 * by export to write `spec.template` and by the planner to tell a new template from a renamed one.
 */
import type { Ref, VMRecord } from '../../model/observed.js';

/** A template as the lookups return it. */
export type TemplateHit = [Ref, VMRecord];

/** The live templates by name_label and by reference_label: what the origin rules look up. */
export interface TemplateLookup {
  named(name: string): TemplateHit[];
  labelled(label: string): TemplateHit[];
}

/** What XAPI recorded on a VM about its template; empty strings count as not recorded. */
export interface RecordedOrigin {
  baseName?: string;
  referenceLabel?: string;
}

/** Where the template was found, or why not (the export note says which). */
export type Origin =
  | { found: TemplateHit; by: 'base_template_name' | 'reference_label' }
  | { found?: undefined; why: 'unrecorded' | 'gone' | 'ambiguous'; baseName?: string; candidates: TemplateHit[] };

export const isTemplate = (r: VMRecord): boolean => r.is_a_template && !r.is_a_snapshot;

/** The origin XAPI recorded on `vm`. */
export function recordedOrigin(vm: VMRecord): RecordedOrigin {
  const baseName = vm.other_config?.['base_template_name'] || undefined;
  const referenceLabel = vm.reference_label || undefined;
  return { ...(baseName ? { baseName } : {}), ...(referenceLabel ? { referenceLabel } : {}) };
}

/** Indexes the templates among `vms` (one pass; callers keep it for the plan or export it serves). */
export function templateLookup(vms: ReadonlyMap<Ref, VMRecord>): TemplateLookup {
  const byName = new Map<string, TemplateHit[]>();
  const byLabel = new Map<string, TemplateHit[]>();
  const add = (map: Map<string, TemplateHit[]>, key: string, hit: TemplateHit) => {
    const list = map.get(key);
    if (list) list.push(hit);
    else map.set(key, [hit]);
  };
  for (const [ref, rec] of vms) {
    if (!isTemplate(rec)) continue;
    add(byName, rec.name_label, [ref, rec]);
    if (rec.reference_label) add(byLabel, rec.reference_label, [ref, rec]);
  }
  return { named: (n) => byName.get(n) ?? [], labelled: (l) => byLabel.get(l) ?? [] };
}

/**
 * The one template the VM was made from, only when the records leave no doubt: the template named
 * base_template_name when exactly one is; among several of that name, the one sharing the VM's
 * reference_label; when the name is gone (renamed) or was never recorded, the one template with
 * the VM's reference_label. Anything less certain is no answer.
 */
export function findOrigin(vm: VMRecord, templates: TemplateLookup): Origin {
  const { baseName, referenceLabel } = recordedOrigin(vm);
  const labelled = referenceLabel ? templates.labelled(referenceLabel) : [];
  if (baseName) {
    const named = templates.named(baseName);
    if (named.length === 1) return { found: named[0]!, by: 'base_template_name' };
    if (named.length > 1) {
      const both = named.filter(([, t]) => referenceLabel !== undefined && t.reference_label === referenceLabel);
      if (both.length === 1) return { found: both[0]!, by: 'base_template_name' };
      return { why: 'ambiguous', baseName, candidates: named };
    }
  }
  if (labelled.length === 1) return { found: labelled[0]!, by: 'reference_label' };
  if (labelled.length > 1) return { why: 'ambiguous', ...(baseName ? { baseName } : {}), candidates: labelled };
  return baseName ? { why: 'gone', baseName, candidates: [] } : { why: 'unrecorded', candidates: [] };
}

/**
 * Whether `template` is not the one the VM was made from, as far as the records tell: XAPI recorded
 * a base_template_name and the template has another name_label — unless no template carries that
 * name any more and this one shares the VM's reference_label (the template was renamed, e.g. by an
 * update of the templates package). A VM with no recorded origin is never said to differ.
 */
export function differentTemplate(vm: VMRecord, template: VMRecord, templates: TemplateLookup): boolean {
  const { baseName, referenceLabel } = recordedOrigin(vm);
  if (baseName === undefined || baseName === template.name_label) return false;
  const renamed = templates.named(baseName).length === 0 && referenceLabel !== undefined && template.reference_label === referenceLabel;
  return !renamed;
}
