export { ConfigError, loadControllerConfig, parseControllerConfig } from './load.js';
export { CONTROLLER_CONFIG_SCHEMA } from './schema.js';
export { DEFAULT_CREDENTIAL_KEYS, defaultConfig, type ControllerConfig, type Limits, type PoolConfig, type ProtectedSelector } from './types.js';
