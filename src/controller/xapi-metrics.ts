import type { XapiCallEvent, XapiClient } from '../xapi/client.js';
import type { ControllerMetrics } from './metrics.js';

/**
 * Counts and times every XAPI request the client sends (apply's calls, the observer's event.from,
 * logins and retries alike) in the controller's metrics, by method and result (`success`, the XAPI
 * error code, or `transport`). Returns a function that stops recording.
 */
export function recordXapiCalls(client: XapiClient, metrics: ControllerMetrics): () => void {
  const results = new ResultLabels();
  const onCall = (e: XapiCallEvent) => {
    metrics.xapiCalls.inc({ method: e.method, result: results.of(e.result) });
    metrics.xapiLatency.observe(e.ms / 1000, { method: e.method });
  };
  client.on('call', onCall);
  return () => client.off('call', onCall);
}

/** Distinct error codes kept as label values; XAPI has a few hundred, a reconcile meets a handful. */
export const MAX_RESULT_LABELS = 64;

/**
 * The `result` label from a closed set: `success`, `transport`, and error-code-shaped values up to
 * MAX_RESULT_LABELS distinct ones; anything else (a misbehaving or hostile server's invented codes,
 * free text) is `other`, so a pool's replies cannot grow the metrics without bound.
 */
export class ResultLabels {
  private readonly seen = new Set<string>(['success', 'transport']);
  of(result: string): string {
    if (this.seen.has(result)) return result;
    if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(result) || this.seen.size >= MAX_RESULT_LABELS + 2) return 'other';
    this.seen.add(result);
    return result;
  }
}
