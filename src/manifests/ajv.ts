/**
 * Ajv, required on first use. Manifests are checked by validators generated at build time
 * (validators.generated.ts); Ajv itself compiles only what a repository or an operator writes: a
 * Policy's admission schemas, the controller's configuration. Loading it costs a process some
 * 70 ms at start (most of it in one piece), which a plan with neither would pay for nothing.
 */
import { createRequire } from 'node:module';
import type { Ajv, Options } from 'ajv';

const require = createRequire(import.meta.url);

/** A new Ajv with these options, with the formats of ajv-formats when `formats`. */
export function newAjv(options: Options, formats = false): Ajv {
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
  const ajv = new AjvClass(options);
  if (formats) (require('ajv-formats') as { default: (ajv: Ajv) => Ajv }).default(ajv);
  return ajv;
}
