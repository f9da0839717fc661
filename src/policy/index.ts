// The policy stage's public surface: admission at validate/plan time, automation after planning.
export { checkAdmission } from './admission.js';
export { applyAutomation, type AutomationContext } from './automation.js';
export {
  AUTOMATION_DEFAULTS,
  DEFAULT_POLICY_NAME,
  effectiveSettings,
  type DisruptionBudget,
  type ResolvedAutomation,
  type WindowGroup,
} from './settings.js';
export { APPROVE_ANNOTATION, approvalHash, isApproved } from './approval.js';
export { SNAPSHOT_PREFIX, snapshotName } from './snapshot.js';
export { windowStatus, type WindowStatus } from './windows.js';
export { matches, globMatches, type MatchTarget } from './match.js';
export { assignRollouts, batchSize, unavailableVMs, pacedByRollout, rolloutBatches, type RolloutBatch } from './rollout.js';
