/**
 * VM_group (XCP-ng 8.3, XenServer 8): VMs placed together under a policy. After xen-api
 * `ocaml/xapi/xapi_vm_group.ml` (destroy takes the group off its VMs), `ocaml/xapi/xapi_vm.ml` `set_groups`
 * (OPERATION_NOT_ALLOWED for control domains, templates and snapshots; TOO_MANY_GROUPS beyond one group) and
 * `ocaml/xapi/xapi_vm_helpers.ml` (`rank_hosts_by_vm_cnt_in_group`): a VM of an anti-affinity group started
 * without a host goes to the hosts with the fewest running members of its group first. The rule is soft, as
 * in XAPI: a VM still starts when every host already runs a member.
 */
import type { Handler } from '../core.js';
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';

/** `hosts` reordered so those running fewer members of `vm`'s anti-affinity group come first (stable). */
export function rankForGroup(db: SimDatabase, vm: string, hosts: readonly string[]): string[] {
  const groups = (db.record(vm).groups as string[] | undefined) ?? [];
  const group = groups.map((g) => db.get(g)).find((g) => g?.rec.placement === 'anti_affinity');
  if (!group) return [...hosts];
  const count = new Map<string, number>(hosts.map((h) => [h, 0]));
  for (const member of group.rec.VMs as string[]) {
    if (member === vm) continue;
    const r = db.get(member)?.rec;
    if (r && (r.power_state === 'Running' || r.power_state === 'Paused')) count.set(r.resident_on as string, (count.get(r.resident_on as string) ?? 0) + 1);
  }
  return [...hosts].sort((a, b) => count.get(a)! - count.get(b)!);
}

/** VM.set_groups and VM_group.destroy; the VM_group.VMs side is kept in step here (a set on both sides). */
export function vmGroupHandlers(): Record<string, Handler> {
  return {
    'VM.set_groups': (c) => {
      const vm = c.db.expect('VM', c.args[0]).ref;
      const rec = c.db.record(vm);
      const value = [...new Set(c.args[1] as string[])];
      for (const g of value) c.db.expect('VM_group', g);
      if (rec.is_control_domain || rec.is_a_template || rec.is_a_snapshot) {
        throw fail('OPERATION_NOT_ALLOWED', 'Control domains, templates, and snapshots cannot be added to VM groups.');
      }
      if (value.length > 1) throw fail('TOO_MANY_GROUPS');
      for (const old of rec.groups as string[]) {
        if (!value.includes(old) && c.db.get(old)) c.db.mutate(old, 'VMs', (s: string[]) => s.splice(s.indexOf(vm), 1));
      }
      for (const g of value) if (!(c.db.record(g).VMs as string[]).includes(vm)) c.db.mutate(g, 'VMs', (s: string[]) => s.push(vm));
      c.db.set(vm, 'groups', value);
    },
    'VM_group.destroy': (c) => {
      const g = c.db.expect('VM_group', c.args[0]).ref;
      for (const vm of [...(c.db.record(g).VMs as string[])]) {
        if (c.db.get(vm)) c.db.set(vm, 'groups', (c.db.record(vm).groups as string[]).filter((x) => x !== g));
      }
      c.db.destroy(g);
    },
  };
}
