import type { DesiredHost } from '../../model/desired.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { applyHost } from './apply.js';
import { hostExporter } from './export.js';
import { planHost } from './plan.js';
import { hostSchema } from './schema.js';

/** Settings of an existing host, found by name: never created, adopted or deleted; exported as its settings. */
export const hostKind = defineKind<DesiredHost>({
  ...hostSchema,
  word: 'host',
  classes: ['host'],
  desired: 'hosts',
  liveName: (h) => h.spec.name,
  plan: planHost,
  apply: applyHost,
  export: hostExporter as KindExporter,
});
