import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The plan API's token in `work`/token and an operator configuration naming it (http.tokenFile),
 * the one file a test's cold and warm plans both read. `more`: further top-level YAML lines.
 */
export function writeTokenConfig(work: string, token: string, more = ''): { tokenFile: string; configFile: string } {
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, token + '\n');
  const configFile = join(work, 'config.yaml');
  writeFileSync(configFile, `apiVersion: xops/v1\nkind: ControllerConfig\n${more}http:\n  tokenFile: ${tokenFile}\n`);
  return { tokenFile, configFile };
}
