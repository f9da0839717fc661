/** How plans show rolling changes: each paced action's batch, and each rollout's batches in order. */
import type { RolloutStep } from '../model/plan.js';
import { rolloutBatches, type RolloutBatch } from '../policy/rollout.js';

export { rolloutBatches };

/** Seconds as `90s`, `2m`, `1h30m`. */
function seconds(n: number): string {
  if (n <= 0) return '0s';
  const h = Math.floor(n / 3600);
  const m = Math.floor((n % 3600) / 60);
  const s = n % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/** `rollout batch 2 of 3 (policy web-tier)`, under a paced action. */
export function rolloutStepLine(step: RolloutStep): string {
  return `rollout batch ${step.batch} of ${step.batches} (policy ${step.policy})`;
}

/** `Rollout of policy web-tier: 2 VM(s) at a time, each healthy for 2m before the next batch:`. */
export function rolloutHeading(b: RolloutBatch): string {
  return `Rollout of policy ${b.policy}: ${b.maxUnavailable} VM(s) at a time, each healthy for ${seconds(b.healthyAfter)} before the next batch; the first failure holds the rest:`;
}

/** `batch 1 of 3: web-1, web-2`. */
export function rolloutBatchLine(b: RolloutBatch): string {
  return `batch ${b.batch} of ${b.batches}: ${b.names.join(', ')}`;
}
