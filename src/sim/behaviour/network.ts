import type { Handler } from '../core.js';
export function networkHandlers(): Record<string, Handler> {
  return {};
}
