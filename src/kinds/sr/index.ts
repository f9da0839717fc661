import type { DesiredSR } from '../../model/desired.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { defineKind } from '../contract.js';
import { srProtection } from './protection.js';
import { applySR } from './apply.js';
import { srExporter } from './export.js';
import { planSR, pruneSRs, vmsOnSR } from './plan.js';
import { srSchema } from './schema.js';
import { srSecretUses } from './secrets.js';

/** A storage repository and its PBDs. */
export const srKind = defineKind<DesiredSR>({
  ...srSchema,
  classes: ['SR', 'PBD'],
  protection: srProtection,
  desired: 'srs',
  owner: { cls: 'SR', nameLabel: (s) => s.spec.nameLabel },
  plan: planSR,
  prune: pruneSRs,
  usersOf: vmsOnSR,
  secretUses: srSecretUses,
  apply: applySR,
  export: srExporter as KindExporter,
});
