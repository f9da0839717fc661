import type { Ref } from '../model/observed.js';
import type { Action } from '../model/plan.js';
import { poolMarkKeys, type PoolMarkedClass } from '../plan/ownership-marks.js';
import { specDigestOf } from './applier.js';
import type { ApplyContext } from './context.js';
import { OwnershipError, UnsupportedChangeError } from './errors.js';
import { marksOwner, pendingName } from './ownership.js';
import { isXapiError, recordsByName, syncMapKeys, tryByUuid, tryRecord } from './xapi.js';

/**
 * Apply's side of the objects whose class has no other_config (VM_appliance, VMSS, VM_group): xops keeps
 * their marks in the pool's other_config under keys naming the object's uuid (poolMarkKeys). One instance
 * per kind; `what` names the object in messages ("appliance", "snapshot schedule", "VM group").
 */
export class PoolMarkedObjects {
  readonly cls: PoolMarkedClass;
  readonly what: string;

  constructor(cls: PoolMarkedClass, what: string) {
    this.cls = cls;
    this.what = what;
  }

  private async poolConfig(ctx: ApplyContext): Promise<[Ref, Record<string, string>]> {
    const [pool] = await ctx.lookup.pool();
    return [pool, await ctx.caller.call<Record<string, string>>('pool.get_other_config', pool)];
  }

  private owns(oc: Record<string, string>, uuid: string, address: string, repo: string | undefined): boolean {
    const keys = poolMarkKeys(this.cls, uuid);
    return marksOwner(oc[keys.managed], oc[keys.repo], address, repo);
  }

  /** Writes the ownership (and repository) marks of the object with this uuid. */
  async mark(ctx: ApplyContext, uuid: string, address: string): Promise<void> {
    const [pool, oc] = await this.poolConfig(ctx);
    const keys = poolMarkKeys(this.cls, uuid);
    const marks: Record<string, string> = { [keys.managed]: address };
    if (ctx.repo !== undefined) marks[keys.repo] = ctx.repo;
    await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, marks);
  }

  /**
   * The object for this address: the planned one, one whose uuid the pool's marks name, or one left under
   * the pending name by an interrupted create (marked here, so it is finished, not duplicated).
   */
  async find(ctx: ApplyContext, action: Action): Promise<Ref | undefined> {
    const planned = action.objects.find((o) => o.cls === this.cls);
    if (planned && (await tryRecord(ctx.caller, this.cls, planned.ref))) return planned.ref;
    const [, oc] = await this.poolConfig(ctx);
    const prefix = poolMarkKeys(this.cls, '').managed;
    for (const [key, value] of Object.entries(oc)) {
      if (!key.startsWith(prefix) || value !== action.address) continue;
      const uuid = key.slice(prefix.length);
      if (!this.owns(oc, uuid, action.address, ctx.repo)) continue;
      const ref = await tryByUuid(ctx.caller, this.cls, uuid);
      if (ref) return ref;
    }
    const pending = await recordsByName<{ uuid: string }>(ctx.caller, this.cls, pendingName(action.address));
    if (pending[0]) {
      await this.mark(ctx, pending[0][1].uuid, action.address);
      return pending[0][0];
    }
    return undefined;
  }

  /**
   * After `created` was made under the pending name: drops a twin a repeated create (reply lost, call
   * resent) left under that name, and marks the object.
   */
  async claimCreated(ctx: ApplyContext, action: Action, created: Ref): Promise<void> {
    for (const [other] of await recordsByName(ctx.caller, this.cls, pendingName(action.address))) {
      if (other !== created) await ctx.caller.callAsync(`${this.cls}.destroy`, other);
    }
    await this.mark(ctx, await ctx.caller.call<string>(`${this.cls}.get_uuid`, created), action.address);
  }

  /** The object's uuid once its marks say this repository owns it at this address; undefined when it is gone. */
  async assertOwned(ctx: ApplyContext, action: Action, ref: Ref): Promise<string | undefined> {
    const uuid = await ctx.caller.call<string>(`${this.cls}.get_uuid`, ref).catch((err: unknown) => {
      if (isXapiError(err, 'HANDLE_INVALID')) return undefined;
      throw err;
    });
    if (uuid === undefined) return undefined;
    const [, oc] = await this.poolConfig(ctx);
    if (!this.owns(oc, uuid, action.address, ctx.repo)) {
      const mark = oc[poolMarkKeys(this.cls, uuid).managed];
      throw new OwnershipError(action.address, `refusing to change ${this.what} ${uuid}: it is ${mark ? `marked ${mark}` : 'not marked by xops'}`);
    }
    return uuid;
  }

  /** Records the action's spec digest (xops.spec) for the object, when the planner gave one. */
  async writeDigest(ctx: ApplyContext, ref: Ref, action: Action): Promise<void> {
    const digest = specDigestOf(action);
    if (digest === undefined) return;
    const uuid = await ctx.caller.call<string>(`${this.cls}.get_uuid`, ref);
    const [pool, oc] = await this.poolConfig(ctx);
    await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, { [poolMarkKeys(this.cls, uuid).spec]: digest });
  }

  /**
   * Destroys the object (`detach` first lets go of what XAPI would refuse to destroy it with), then its
   * marks — also those left behind by a delete that crashed after the destroy.
   */
  async remove(ctx: ApplyContext, action: Action, detach: (ref: Ref) => Promise<void> = async () => undefined): Promise<void> {
    const ref = await this.find(ctx, action);
    let uuid = ref ? await this.assertOwned(ctx, action, ref) : undefined;
    if (ref && uuid) {
      await detach(ref);
      try {
        await ctx.caller.callAsync(`${this.cls}.destroy`, ref);
      } catch (err) {
        if (!isXapiError(err, 'HANDLE_INVALID')) throw err;
      }
    }
    uuid ??= action.objects.find((o) => o.cls === this.cls)?.uuid;
    if (uuid) {
      const keys = poolMarkKeys(this.cls, uuid);
      const [pool, oc] = await this.poolConfig(ctx);
      if (oc[keys.managed] !== undefined && !this.owns(oc, uuid, action.address, ctx.repo)) return;
      await syncMapKeys(ctx.caller, 'pool', pool, 'other_config', oc, {}, [keys.managed, keys.repo, keys.spec]);
    }
  }

  /** Marks the object the adopt action names, unless another resource or repository already owns it. */
  async adopt(ctx: ApplyContext, action: Action): Promise<void> {
    const target = action.objects.find((o) => o.cls === this.cls);
    if (!target) throw new UnsupportedChangeError(action.address, `adopt action names no ${this.what}`);
    const [, oc] = await this.poolConfig(ctx);
    const mark = oc[poolMarkKeys(this.cls, target.uuid).managed];
    if (mark !== undefined && !this.owns(oc, target.uuid, action.address, ctx.repo)) {
      throw new OwnershipError(action.address, `refusing to adopt ${this.what} ${target.uuid}: it is marked ${mark}`);
    }
    await this.mark(ctx, target.uuid, action.address);
  }
}
