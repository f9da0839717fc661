import type { DesiredHost } from '../../model/desired.js';
import { defineKind } from '../contract.js';
import { applyHost } from './apply.js';
import { planHost } from './plan.js';
import { hostSchema } from './schema.js';

/** Settings of an existing host, found by name: never created, adopted, deleted or exported. */
export const hostKind = defineKind<DesiredHost>({
  ...hostSchema,
  word: 'host',
  classes: ['host'],
  desired: 'hosts',
  liveName: (h) => h.spec.name,
  plan: planHost,
  apply: applyHost,
});
