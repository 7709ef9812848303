/**
 * A KVM deploy leg's platform steps (README: Source of truth, Platforms), through libvirt (lib/virsh.ts,
 * one connection per URI kept by the worker): a snapshot of each domain before anything changes, older
 * Stackwire snapshots beyond `keep_snapshots` deleted; and, when the leg fails, a revert of each domain
 * to that snapshot. Both are idempotent: an existing snapshot is not taken again, a revert repeats.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Virsh, VirshError } from '../lib/virsh.js';

export interface KvmSnapshotInput {
  component: string;
  region: string;
  uri: string;
  domains: string[];
  /** stackwire-<time>-<deployment>: names sort by time. */
  snapshot: string;
  keep: number;
}

export interface KvmDomainSnapshots {
  domain: string;
  /** The domain's Stackwire snapshots after the step, oldest first. */
  snapshots: string[];
  deleted: string[];
}

export interface KvmRevertResult {
  domain: string;
  /** The domain's current snapshot, as libvirt reports it after the revert. */
  current: string;
}

function failure(message: string, type: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true });
}

export function createKvmActivities(deps: { scriptEnv: Record<string, string> }) {
  const virsh = new Virsh(deps.scriptEnv);
  const list = async (uri: string, domain: string) =>
    (await virsh.run(uri, ['snapshot-list', '--domain', domain, '--name']))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  /** One domain's work, heartbeating every second while it runs (a snapshot with memory can take minutes). */
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const ctx = Context.current();
    const ticker = setInterval(() => ctx.heartbeat({ phase: what }), 1000);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof VirshError) throw failure(`${what}: ${err.message}`, 'LibvirtFailed');
      throw err;
    } finally {
      clearInterval(ticker);
    }
  };
  /** Snapshots, reverts and deletes: as long as libvirt needs, up to 14 minutes, inside the activity's 15 (it heartbeats meanwhile). */
  const LONG = 14 * 60_000;
  return {
    async kvmSnapshot(input: KvmSnapshotInput): Promise<KvmDomainSnapshots[]> {
      const ctx = Context.current();
      const out: KvmDomainSnapshots[] = [];
      for (const domain of input.domains) {
        ctx.heartbeat({ phase: `snapshot ${domain}` });
        out.push(
          await wrap(`snapshot of KVM domain ${domain} on ${input.uri}`, async () => {
            if (!(await list(input.uri, domain)).includes(input.snapshot))
              await virsh.run(input.uri, ['snapshot-create-as', '--domain', domain, '--name', input.snapshot], LONG);
            const ours = (await list(input.uri, domain)).filter((s) => s.startsWith('stackwire-')).sort();
            const deleted = ours.slice(0, Math.max(0, ours.length - input.keep)).filter((s) => s !== input.snapshot);
            for (const s of deleted) await virsh.run(input.uri, ['snapshot-delete', '--domain', domain, '--snapshotname', s], LONG);
            return { domain, snapshots: ours.filter((s) => !deleted.includes(s)), deleted };
          }),
        );
      }
      return out;
    },

    async kvmRevert(input: { uri: string; domains: string[]; snapshot: string }): Promise<KvmRevertResult[]> {
      const ctx = Context.current();
      const out: KvmRevertResult[] = [];
      for (const domain of input.domains) {
        ctx.heartbeat({ phase: `revert ${domain}` });
        out.push(
          await wrap(`revert of KVM domain ${domain} to ${input.snapshot} on ${input.uri}`, async () => {
            await virsh.run(input.uri, ['snapshot-revert', '--domain', domain, '--snapshotname', input.snapshot], LONG);
            return { domain, current: await virsh.run(input.uri, ['snapshot-current', '--domain', domain, '--name']) };
          }),
        );
      }
      return out;
    },
  };
}
