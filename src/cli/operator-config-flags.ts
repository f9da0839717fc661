// The operator-configuration flags and their usage text, apart from the configuration loader.
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
