export { formatRefusal, renderText, type TextOptions } from './text.js';
export { renderMarkdown, GITHUB_COMMENT_BUDGET, type MarkdownOptions } from './markdown.js';
export { countPlan, hasChanges, onlyHeldChanges, summaryLine, type PlanCounts } from './summary.js';
export { shouldColor } from './color.js';
