import { ConfigError, defaultConfig, loadControllerConfig, type ControllerConfig } from '../config/index.js';
import type { OperatorLimits } from '../policy/settings.js';
import { str } from './args.js';
import { UserError } from './errors.js';

/** Flags every command that talks to a pool takes: the operator's configuration and one-run raises. */
export const operatorConfigOptions = {
  config: { type: 'string' },
  'allow-adopt': { type: 'boolean' },
  'allow-prune': { type: 'boolean' },
  'allow-destructive': { type: 'boolean' },
} as const;

export const OPERATOR_CONFIG_USAGE = `operator's configuration (never read from the repository):
  --config FILE         a ControllerConfig YAML file (or env XOPS_CONFIG): limits, secrets,
                        protected objects, commit verification; without one, adopt, prune and
                        destructive changes are off and only XOPS_SECRET_* variables may be named
  --allow-adopt         raise limits.adopt for this run (repository Policies still decide)
  --allow-prune         raise limits.prune for this run
  --allow-destructive   raise limits.destructive for this run`;

/** The configuration and the limits in force for this run. */
export interface OperatorSettings {
  config: ControllerConfig;
  limits: OperatorLimits;
}

/** Loads `--config` (or XOPS_CONFIG), then applies the `--allow-*` raises. Bad files are one-line UserErrors. */
export async function operatorSettings(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<OperatorSettings> {
  const file = str(values.config) ?? (env['XOPS_CONFIG'] || undefined);
  let config: ControllerConfig;
  try {
    config = file ? await loadControllerConfig(file) : defaultConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(`--config: ${err.message}`);
    throw err;
  }
  const limits: OperatorLimits = {
    adopt: config.limits.adopt || values['allow-adopt'] === true,
    prune: config.limits.prune || values['allow-prune'] === true,
    destructive: config.limits.destructive || values['allow-destructive'] === true,
  };
  return { config, limits };
}
