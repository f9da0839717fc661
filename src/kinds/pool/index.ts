import type { DesiredPool } from '../../model/desired.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { applyPool } from './apply.js';
import { poolExporter } from './export.js';
import { planPool } from './plan.js';
import { poolSchema } from './schema.js';

/** The pool xops is connected to: settings only, never created, adopted or deleted. */
export const poolKind = defineKind<DesiredPool>({
  ...poolSchema,
  classes: ['pool'],
  desired: 'pool',
  singleton: true,
  plan: planPool,
  apply: applyPool,
  export: poolExporter as KindExporter,
});
