export { formatRefusal, renderText, type TextOptions } from './text.js';
export { renderMarkdown } from './markdown.js';
export { countPlan, hasChanges, summaryLine, type PlanCounts } from './summary.js';

/** Colour for a stream: only on a TTY, and never when NO_COLOR is set to anything non-empty (no-color.org). */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env['NO_COLOR'];
}
