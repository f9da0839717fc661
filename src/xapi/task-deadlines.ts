/**
 * How long an XAPI task may run before the client gives up on it, cancels it and fails the call.
 * A deadline only bounds a task that never ends (a wedged host, a stuck storage backend); it is
 * generous on purpose, so that a slow but healthy operation is never cut short.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Used for any Async method the table does not name. */
export const DEFAULT_TASK_DEADLINE_MS = 10 * MINUTE;

// First match wins. Copies move whole disks (hours on a large VDI over slow storage); migrations
// move memory and maybe disks; SR work probes storage; everything else edits the database.
const TABLE: readonly (readonly [RegExp, number])[] = [
  [/^(VM\.(copy|migrate_send)|VDI\.(copy|pool_migrate)|VM\.import|VM\.export)$/, 4 * HOUR],
  [/^VM\.(provision|pool_migrate|snapshot_with_quiesce|checkpoint|revert)$/, HOUR],
  [/^(SR\.(create|introduce|probe|probe_ext|scan|forget|destroy|update)|PBD\.(plug|unplug))$/, 30 * MINUTE],
  [/^(VM\.(clone|snapshot|start|start_on|shutdown|clean_shutdown|hard_shutdown|reboot|clean_reboot|hard_reboot|suspend|resume|destroy)|VDI\.(create|destroy|clone|snapshot|resize))$/, 30 * MINUTE],
  [/^pool\.(enable_ha|disable_ha|join|eject|designate_new_master|emergency_transition_to_master)$/, 30 * MINUTE],
  [/^(Bond\.(create|destroy|set_mode)|PIF\.(plug|unplug|reconfigure_ip)|host\.(evacuate|reboot|shutdown|disable|enable))$/, 30 * MINUTE],
  [/\.(set_\w+|add_\w+|remove_\w+|create|destroy)$/, 5 * MINUTE],
];

/**
 * The deadline, in ms, for the task of `method` (written without the `Async.` prefix). `overrides`
 * (method name → ms, `'*'` for the default) win over the built-in table.
 */
export function taskDeadlineMs(method: string, overrides?: Readonly<Record<string, number>>): number {
  const name = method.startsWith('Async.') ? method.slice(6) : method;
  const own = overrides?.[name];
  if (own !== undefined) return own;
  for (const [re, ms] of TABLE) if (re.test(name)) return ms;
  return overrides?.['*'] ?? DEFAULT_TASK_DEADLINE_MS;
}
