import { defaultConfig, type ControllerConfig } from '../config/types.js';
import type { OperatorLimits } from '../policy/settings.js';
import { str } from './args.js';
import { UserError } from './errors.js';

export { OPERATOR_CONFIG_USAGE, operatorConfigOptions } from './operator-config-flags.js';

/** The configuration and the limits in force for this run. */
export interface OperatorSettings {
  config: ControllerConfig;
  limits: OperatorLimits;
}

/** Loads `--config` (or XOPS_CONFIG), then applies the `--allow-*` raises. Bad files are one-line UserErrors. */
export async function operatorSettings(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<OperatorSettings> {
  const file = str(values.config) ?? (env['XOPS_CONFIG'] || undefined);
  let config: ControllerConfig = defaultConfig();
  if (file) {
    // The loader (ajv, YAML) loads only when there is a file: `plan --server` often has none.
    const { ConfigError, loadControllerConfig } = await import('../config/load.js');
    try {
      config = await loadControllerConfig(file);
    } catch (err) {
      if (err instanceof ConfigError) throw new UserError(`--config: ${err.message}`);
      throw err;
    }
  }
  const limits: OperatorLimits = {
    adopt: config.limits.adopt || values['allow-adopt'] === true,
    prune: config.limits.prune || values['allow-prune'] === true,
    destructive: config.limits.destructive || values['allow-destructive'] === true,
  };
  return { config, limits };
}
