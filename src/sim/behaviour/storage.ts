import type { Handler } from '../core.js';
export function storageHandlers(): Record<string, Handler> {
  return {};
}
