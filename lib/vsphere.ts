/**
 * The vSphere VI/JSON API calls a vSphere deploy leg makes (vSphere 8.0 U1+, /sdk/vim25/{release}/…):
 * log in (the session header vmware-api-session-id), find a VM by inventory path, read its snapshots,
 * create, revert and remove snapshots, and poll the tasks they start. test/vsphere-stub.ts serves
 * exactly these calls with their shapes.
 */
export const VIM_RELEASE = '8.0.1.0';

export class VsphereError extends Error {
  override name = 'VsphereError';
  constructor(
    message: string,
    /** vCenter could not be reached, or a proxy in front of it answered 502/503/504: another attempt may do. */
    readonly transient = false,
  ) {
    super(message);
  }
}

interface TaskInfo {
  state: string;
  descriptionId?: string;
  result?: MoRef;
  error?: { fault?: unknown; localizedMessage?: string; faultMessage?: { message?: string }[]; _typeName?: string };
}

interface MoRef {
  _typeName?: string;
  type: string;
  value: string;
}

export interface SnapshotTree {
  name: string;
  snapshot: MoRef;
  createTime?: string;
  childSnapshotList?: SnapshotTree[];
}

function faultMessage(text: string): string {
  try {
    const f = JSON.parse(text) as { _typeName?: string; faultstring?: string; faultMessage?: { message?: string }[]; localizedMessage?: string };
    return [f._typeName, f.faultstring ?? f.localizedMessage ?? f.faultMessage?.map((m) => m.message).join('; ')].filter(Boolean).join(': ');
  } catch {
    return text.slice(0, 300);
  }
}

export class Vsphere {
  private session: string | undefined;
  private readonly base: string;

  constructor(
    endpoint: string,
    private readonly username: string,
    private readonly password: string,
  ) {
    this.base = `${endpoint.replace(/\/+$/, '')}/sdk/vim25/${VIM_RELEASE}`;
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    login = false,
  ): Promise<{ status: number; json: T | undefined; headers: Headers }> {
    if (!login && !this.session) await this.login();
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.session && !login ? { 'vmware-api-session-id': this.session } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new VsphereError(`vCenter at ${this.base}: ${(err as Error).message}`, true);
    }
    const text = await res.text();
    if (res.status >= 300) throw new VsphereError(`${method} ${path}: ${res.status} ${faultMessage(text)}`, [502, 503, 504].includes(res.status));
    const json = text.trim() === '' || text.trim() === 'null' ? undefined : (JSON.parse(text) as T);
    return { status: res.status, json, headers: res.headers };
  }

  async login(): Promise<void> {
    const r = await this.call('POST', '/SessionManager/SessionManager/Login', { userName: this.username, password: this.password }, true);
    const id = r.headers.get('vmware-api-session-id');
    if (!id) throw new VsphereError('vCenter answered the login without a vmware-api-session-id header');
    this.session = id;
  }

  async logout(): Promise<void> {
    if (this.session) await this.call('POST', '/SessionManager/SessionManager/Logout', {}).catch(() => undefined);
    this.session = undefined;
  }

  async findVm(inventoryPath: string): Promise<string> {
    const r = await this.call<MoRef>('POST', '/SearchIndex/SearchIndex/FindByInventoryPath', { inventoryPath: inventoryPath.replace(/^\//, '') });
    if (!r.json || r.json.type !== 'VirtualMachine') throw new VsphereError(`no VM at inventory path ${inventoryPath}`);
    return r.json.value;
  }

  /** Every snapshot of the VM (flattened), and the current one. */
  async snapshots(vm: string): Promise<{ list: { name: string; id: string; createTime?: string }[]; current: string | null }> {
    const r = await this.call<{ currentSnapshot?: MoRef; rootSnapshotList?: SnapshotTree[] }>('GET', `/VirtualMachine/${encodeURIComponent(vm)}/snapshot`);
    const list: { name: string; id: string; createTime?: string }[] = [];
    const walk = (ts: SnapshotTree[] = []) => {
      for (const t of ts) {
        list.push({ name: t.name, id: t.snapshot.value, ...(t.createTime ? { createTime: t.createTime } : {}) });
        walk(t.childSnapshotList);
      }
    };
    walk(r.json?.rootSnapshotList);
    return { list, current: r.json?.currentSnapshot?.value ?? null };
  }

  private async task(ref: MoRef | undefined, what: string, beat: () => void): Promise<MoRef | undefined> {
    if (!ref) throw new VsphereError(`${what}: vCenter started no task`);
    for (;;) {
      const info = (await this.call<TaskInfo>('GET', `/Task/${encodeURIComponent(ref.value)}/info`)).json;
      if (info?.state === 'success') return info.result;
      if (info?.state === 'error') {
        const e = info.error;
        throw new VsphereError(`${what}: ${e?.localizedMessage ?? e?.faultMessage?.map((m) => m.message).join('; ') ?? e?._typeName ?? 'the task failed'}`);
      }
      beat();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /**
   * Waits for the VM's tasks still queued or running — a snapshot, revert or remove an earlier attempt
   * started before its worker died or vCenter stopped answering it — so that what they do is seen before
   * a name is looked for (else a second snapshot of the same name would be taken) and a second task does
   * not meet vCenter's "another task is in progress". Their own failures are theirs.
   */
  async settleTasks(vm: string, beat: () => void): Promise<void> {
    const recent = (await this.call<MoRef[]>('GET', `/VirtualMachine/${encodeURIComponent(vm)}/recentTask`)).json ?? [];
    for (const ref of recent) {
      const info = (await this.call<TaskInfo>('GET', `/Task/${encodeURIComponent(ref.value)}/info`)).json;
      if (info?.state === 'queued' || info?.state === 'running')
        await this.task(ref, `an earlier snapshot task (${ref.value})`, beat).catch((err: unknown) => {
          if (err instanceof VsphereError && err.transient) throw err;
        });
    }
  }

  async createSnapshot(vm: string, name: string, description: string, beat: () => void): Promise<string> {
    const r = await this.call<MoRef>('POST', `/VirtualMachine/${encodeURIComponent(vm)}/CreateSnapshot_Task`, {
      name,
      description,
      memory: false,
      quiesce: false,
    });
    return (await this.task(r.json, `snapshot ${name}`, beat))?.value ?? '';
  }

  async revert(snapshot: string, beat: () => void): Promise<void> {
    const r = await this.call<MoRef>('POST', `/VirtualMachineSnapshot/${encodeURIComponent(snapshot)}/RevertToSnapshot_Task`, {});
    await this.task(r.json, `revert to ${snapshot}`, beat);
  }

  async remove(snapshot: string, beat: () => void): Promise<void> {
    const r = await this.call<MoRef>('POST', `/VirtualMachineSnapshot/${encodeURIComponent(snapshot)}/RemoveSnapshot_Task`, { removeChildren: false });
    await this.task(r.json, `remove ${snapshot}`, beat);
  }
}
