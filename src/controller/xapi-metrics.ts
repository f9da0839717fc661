import type { XapiCallEvent, XapiClient } from '../xapi/client.js';
import type { ControllerMetrics } from './metrics.js';

/**
 * Counts and times every XAPI request the client sends (apply's calls, the observer's event.from,
 * logins and retries alike) in the controller's metrics, by method and result (`success`, the XAPI
 * error code, or `transport`). Returns a function that stops recording.
 */
export function recordXapiCalls(client: XapiClient, metrics: ControllerMetrics): () => void {
  const onCall = (e: XapiCallEvent) => {
    metrics.xapiCalls.inc({ method: e.method, result: e.result });
    metrics.xapiLatency.observe(e.ms / 1000, { method: e.method });
  };
  client.on('call', onCall);
  return () => client.off('call', onCall);
}
