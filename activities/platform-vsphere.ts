/**
 * A vSphere deploy leg's platform steps, through the VI/JSON API (lib/vsphere.ts): a snapshot of each
 * VM before anything changes, older Stackwire snapshots beyond `keep_snapshots` removed; and, when the
 * leg fails, a revert of each VM to that snapshot. The vCenter password is a secret:<name> reference,
 * opened here. Idempotent like the KVM steps: the VM's tasks an earlier attempt left running are waited
 * for first (a snapshot it was taking is then found by its name). vCenter unreachable (or a gateway's 502/503/504) is retried; its
 * faults are not.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Vsphere, VsphereError } from '../lib/vsphere.js';
import { openSecretRefs, type SecretDeps } from './platform-secrets.js';

export interface VsphereTarget {
  endpoint: string;
  username: string;
  /** secret:<name>. */
  password: string;
  vms: string[];
  snapshot: string;
}

function failure(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: 'VsphereFailed', nonRetryable: true });
}

/** vCenter unreachable or a gateway error: retried (the steps are idempotent), the last attempt's words kept. */
function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: 'VsphereUnavailable' });
}

async function connect(deps: SecretDeps, t: VsphereTarget): Promise<Vsphere> {
  const { password } = await openSecretRefs(deps, { password: t.password });
  return new Vsphere(t.endpoint, t.username, password);
}

export function createVsphereActivities(deps: SecretDeps) {
  const guarded = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof VsphereError) throw err.transient ? unavailable(`${what}: ${err.message}`) : failure(`${what}: ${err.message}`);
      throw err;
    }
  };
  return {
    async vsphereSnapshot(input: VsphereTarget & { keep: number }): Promise<{ vm: string; snapshots: string[]; deleted: string[] }[]> {
      const ctx = Context.current();
      const beat = () => ctx.heartbeat({ phase: 'snapshots' });
      const vc = await connect(deps, input);
      try {
        const out: { vm: string; snapshots: string[]; deleted: string[] }[] = [];
        for (const path of input.vms)
          out.push(
            await guarded(`snapshot of vSphere VM ${path} on ${input.endpoint}`, async () => {
              const vm = await vc.findVm(path);
              await vc.settleTasks(vm, beat);
              if (!(await vc.snapshots(vm)).list.some((s) => s.name === input.snapshot))
                await vc.createSnapshot(vm, input.snapshot, `taken by Stackwire before a deploy (${input.snapshot})`, beat);
              const ours = (await vc.snapshots(vm)).list.filter((s) => s.name.startsWith('stackwire-')).sort((a, b) => (a.name < b.name ? -1 : 1));
              const old = ours.slice(0, Math.max(0, ours.length - input.keep)).filter((s) => s.name !== input.snapshot);
              for (const s of old) await vc.remove(s.id, beat);
              return { vm: path, snapshots: ours.filter((s) => !old.includes(s)).map((s) => s.name), deleted: old.map((s) => s.name) };
            }),
          );
        return out;
      } finally {
        await vc.logout();
      }
    },

    async vsphereRevert(input: VsphereTarget): Promise<{ vm: string; current: string }[]> {
      const ctx = Context.current();
      const beat = () => ctx.heartbeat({ phase: 'revert' });
      const vc = await connect(deps, input);
      try {
        const out: { vm: string; current: string }[] = [];
        for (const path of input.vms)
          out.push(
            await guarded(`revert of vSphere VM ${path} to ${input.snapshot}`, async () => {
              const vm = await vc.findVm(path);
              await vc.settleTasks(vm, beat);
              const snap = (await vc.snapshots(vm)).list.find((s) => s.name === input.snapshot);
              if (!snap) throw new VsphereError(`VM ${path} has no snapshot ${input.snapshot}`);
              await vc.revert(snap.id, beat);
              const after = await vc.snapshots(vm);
              return { vm: path, current: after.list.find((s) => s.id === after.current)?.name ?? String(after.current) };
            }),
          );
        return out;
      } finally {
        await vc.logout();
      }
    },
  };
}
