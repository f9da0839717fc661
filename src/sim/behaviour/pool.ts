import type { Handler } from '../core.js';
export function poolHandlers(): Record<string, Handler> {
  return {};
}
