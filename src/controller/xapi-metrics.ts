import { XapiError, type XapiCaller } from '../xapi/caller.js';
import type { ControllerMetrics } from './metrics.js';

/**
 * Wraps an XapiCaller so every call is counted and timed in the controller's metrics, by method and
 * result (`success` or the XAPI error code, `transport` for anything that is not an XapiError).
 */
export function instrumentCaller(caller: XapiCaller, metrics: ControllerMetrics, now: () => number = () => performance.now()): XapiCaller {
  const timed = async <T>(method: string, run: () => Promise<T>): Promise<T> => {
    const started = now();
    try {
      const result = await run();
      metrics.xapiCalls.inc({ method, result: 'success' });
      return result;
    } catch (err) {
      metrics.xapiCalls.inc({ method, result: err instanceof XapiError ? err.code : 'transport' });
      throw err;
    } finally {
      metrics.xapiLatency.observe((now() - started) / 1000, { method });
    }
  };
  return {
    call: <T>(method: string, ...params: unknown[]) => timed(method, () => caller.call<T>(method, ...params)),
    callAsync: <T>(method: string, ...params: unknown[]) => timed(`Async.${method}`, () => caller.callAsync<T>(method, ...params)),
  };
}
