/**
 * The repository identity written as `other_config["xops.repo"]` on everything xops creates, so two
 * repositories managing the same pool never touch each other's objects. One rule for every command
 * (plan, diff, apply, run), so a plan and its apply always agree: `--repo-id`, else env
 * `XOPS_REPO_ID`, else `default`.
 */
export const DEFAULT_REPO_ID = 'default';

export const repoIdOption = { 'repo-id': { type: 'string' } } as const;

export const REPO_ID_HELP =
  "  --repo-id ID          repository identity written as xops.repo; objects marked by another\n" +
  "                        repository are never touched (default: env XOPS_REPO_ID, else 'default')";

export function repoIdentity(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  const flag = values['repo-id'];
  if (typeof flag === 'string' && flag.trim()) return flag.trim();
  const fromEnv = env['XOPS_REPO_ID']?.trim();
  return fromEnv || DEFAULT_REPO_ID;
}
