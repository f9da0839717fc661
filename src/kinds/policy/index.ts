import type { DesiredPolicy } from '../../model/desired.js';
import { defineKind } from '../contract.js';
import { policySchema } from './schema.js';

/** A Policy steers xops (admission, automation, approvals); it maps to no pool object. */
export const policyKind = defineKind<DesiredPolicy>({
  ...policySchema,
  classes: [],
  desired: 'policies',
});
