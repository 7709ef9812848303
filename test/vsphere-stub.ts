/**
 * A STUB of the vSphere VI/JSON API (/sdk/vim25/8.0.1.0/…) — no vCenter or simulator can be had here —
 * serving exactly the calls lib/vsphere.ts makes, with their shapes: SessionManager Login/Logout (the
 * vmware-api-session-id header; InvalidLogin and NotAuthenticated faults as 500), SearchIndex
 * FindByInventoryPath (a MoRef, or 204 when none), a VM's `snapshot` property
 * (VirtualMachineSnapshotInfo, 204 when it has none), CreateSnapshot_Task, RevertToSnapshot_Task and
 * RemoveSnapshot_Task (Task MoRefs), Task info (queued → running → success, with its descriptionId) and a
 * VM's `recentTask` property. `slowTasks` makes tasks take time (their effect lands that long after they
 * start, polled or not) and `failTaskPolls` answers the next task polls 503, as a gateway in front of a
 * busy vCenter does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Snap {
  id: string;
  name: string;
  parent: string | null;
  createTime: string;
}

interface StubTask {
  vm: string;
  descriptionId: string;
  polls: number;
  done: boolean;
  /** When it started (the stub's counter). */
  seq: number;
  result?: unknown;
  apply: () => unknown;
}

export interface VsphereStub {
  url: string;
  calls: { method: string; path: string }[];
  /** The VM's snapshot names, oldest first, and the current one. */
  state: (path: string) => { snapshots: string[]; current: string | null };
  /** From now on, tasks land `ms` after they start (0: at their second poll, the default). */
  slowTasks: (ms: number) => void;
  /** The next `n` polls of tasks started from now on answer 503 Service Unavailable. */
  failTaskPolls: (n: number) => void;
  close: () => Promise<void>;
}

export async function startVsphereStub(o: { username: string; password: string; vms: string[] }): Promise<VsphereStub> {
  const base = '/sdk/vim25/8.0.1.0';
  const sessions = new Set<string>();
  const vms = new Map(o.vms.map((p, i) => [`vm-${100 + i}`, { path: p.replace(/^\//, ''), snaps: [] as Snap[], current: null as string | null }]));
  const tasks = new Map<string, StubTask>();
  let taskMs = 0;
  let failPolls = 0;
  /** Only tasks started after failTaskPolls was called get the 503s. */
  let failFrom = Infinity;
  const calls: { method: string; path: string }[] = [];
  let seq = 0;
  const moref = (type: string, value: string) => ({ _typeName: 'ManagedObjectReference', type, value });
  const vmOf = (snap: string) => [...vms.entries()].find(([, v]) => v.snaps.some((s) => s.id === snap));
  const tree = (snaps: Snap[], parent: string | null, vm: string): unknown[] =>
    snaps
      .filter((s) => s.parent === parent)
      .map((s) => ({
        _typeName: 'VirtualMachineSnapshotTree',
        snapshot: moref('VirtualMachineSnapshot', s.id),
        vm: moref('VirtualMachine', vm),
        name: s.name,
        description: '',
        id: Number(s.id.slice('snapshot-'.length)),
        createTime: s.createTime,
        state: 'poweredOn',
        quiesced: false,
        childSnapshotList: tree(snaps, s.id, vm),
      }));
  const task = (vm: string, descriptionId: string, apply: () => unknown) => {
    const id = `task-${++seq}`;
    const t: StubTask = { vm, descriptionId, polls: 0, done: false, apply, seq };
    tasks.set(id, t);
    if (taskMs > 0)
      setTimeout(() => {
        t.result = t.apply();
        t.done = true;
      }, taskMs);
    return moref('Task', id);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      calls.push({ method: req.method ?? '', path });
      const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      const body = (chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}) as Record<string, unknown>;
      if (!path.startsWith(`${base}/`)) return send(404, { _typeName: 'InvalidRequest', faultstring: `not a VI/JSON path: ${path}` });
      const p = path.slice(base.length);
      if (req.method === 'POST' && p === '/SessionManager/SessionManager/Login') {
        if (body.userName !== o.username || body.password !== o.password)
          return send(500, { _typeName: 'InvalidLogin', faultstring: 'Cannot complete login due to an incorrect user name or password.' });
        const id = `session-${++seq}`;
        sessions.add(id);
        return send(200, { _typeName: 'UserSession', key: id, userName: o.username, fullName: o.username, locale: 'en' }, { 'vmware-api-session-id': id });
      }
      const session = req.headers['vmware-api-session-id'];
      if (typeof session !== 'string' || !sessions.has(session))
        return send(500, { _typeName: 'NotAuthenticated', faultstring: 'The session is not authenticated.' });
      if (req.method === 'POST' && p === '/SessionManager/SessionManager/Logout') {
        sessions.delete(session);
        return send(204);
      }
      if (req.method === 'POST' && p === '/SearchIndex/SearchIndex/FindByInventoryPath') {
        const found = [...vms.entries()].find(([, v]) => v.path === body.inventoryPath);
        return found ? send(200, moref('VirtualMachine', found[0])) : send(204);
      }
      let m: RegExpExecArray | null;
      if ((m = /^\/VirtualMachine\/([^/]+)\/snapshot$/.exec(p)) && req.method === 'GET') {
        const vm = vms.get(m[1]);
        if (!vm) return send(500, { _typeName: 'ManagedObjectNotFound', faultstring: `no VM ${m[1]}` });
        if (!vm.snaps.length) return send(204);
        return send(200, {
          _typeName: 'VirtualMachineSnapshotInfo',
          ...(vm.current ? { currentSnapshot: moref('VirtualMachineSnapshot', vm.current) } : {}),
          rootSnapshotList: tree(vm.snaps, null, m[1]),
        });
      }
      if ((m = /^\/VirtualMachine\/([^/]+)\/recentTask$/.exec(p)) && req.method === 'GET') {
        if (!vms.has(m[1])) return send(500, { _typeName: 'ManagedObjectNotFound', faultstring: `no VM ${m[1]}` });
        const recent = [...tasks.entries()].filter(([, t]) => t.vm === m![1]).map(([id]) => moref('Task', id));
        return send(200, recent);
      }
      if ((m = /^\/VirtualMachine\/([^/]+)\/CreateSnapshot_Task$/.exec(p)) && req.method === 'POST') {
        const vm = vms.get(m[1]);
        if (!vm) return send(500, { _typeName: 'ManagedObjectNotFound', faultstring: `no VM ${m[1]}` });
        if (typeof body.name !== 'string' || typeof body.memory !== 'boolean' || typeof body.quiesce !== 'boolean')
          return send(500, { _typeName: 'InvalidArgument', faultstring: 'name, memory and quiesce are required' });
        return send(
          200,
          task(m[1], 'VirtualMachine.createSnapshot', () => {
            const s: Snap = { id: `snapshot-${++seq}`, name: body.name as string, parent: vm.current, createTime: new Date().toISOString() };
            vm.snaps.push(s);
            vm.current = s.id;
            return moref('VirtualMachineSnapshot', s.id);
          }),
        );
      }
      if ((m = /^\/VirtualMachineSnapshot\/([^/]+)\/(RevertToSnapshot_Task|RemoveSnapshot_Task)$/.exec(p)) && req.method === 'POST') {
        const owner = vmOf(m[1]);
        if (!owner) return send(500, { _typeName: 'ManagedObjectNotFound', faultstring: `no snapshot ${m[1]}` });
        const [vmId, vm] = owner;
        const id = m[1];
        if (m[2] === 'RevertToSnapshot_Task')
          return send(
            200,
            task(vmId, 'vm.Snapshot.revert', () => void (vm.current = id)),
          );
        if (body.removeChildren !== false && body.removeChildren !== true)
          return send(500, { _typeName: 'InvalidArgument', faultstring: 'removeChildren is required' });
        return send(
          200,
          task(vmId, 'vm.Snapshot.remove', () => {
            const s = vm.snaps.find((x) => x.id === id)!;
            for (const c of vm.snaps) if (c.parent === id) c.parent = s.parent;
            vm.snaps = vm.snaps.filter((x) => x.id !== id);
            if (vm.current === id) vm.current = s.parent;
          }),
        );
      }
      if ((m = /^\/Task\/([^/]+)\/info$/.exec(p)) && req.method === 'GET') {
        const t = tasks.get(m[1]);
        if (!t) return send(500, { _typeName: 'ManagedObjectNotFound', faultstring: `no task ${m[1]}` });
        if (failPolls > 0 && t.seq > failFrom) {
          failPolls--;
          res.writeHead(503, { 'content-type': 'text/plain' });
          return res.end('Service Unavailable');
        }
        let state: string;
        if (taskMs > 0) state = t.done ? 'success' : t.polls === 0 ? 'queued' : 'running';
        else {
          state = t.polls === 0 ? 'queued' : t.polls === 1 ? 'running' : 'success';
          if (t.polls === 1) {
            t.result = t.apply();
            t.done = true;
          }
        }
        t.polls++;
        const result = state === 'success' ? t.result : undefined;
        return send(200, {
          _typeName: 'TaskInfo',
          key: m[1],
          task: moref('Task', m[1]),
          descriptionId: t.descriptionId,
          state,
          cancelled: false,
          cancelable: false,
          reason: { _typeName: 'TaskReasonUser', userName: o.username },
          queueTime: new Date().toISOString(),
          eventChainId: 1,
          ...(result ? { result } : {}),
        });
      }
      return send(500, { _typeName: 'NotSupported', faultstring: `the stub does not serve ${req.method} ${p}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    state: (path: string) => {
      const vm = [...vms.values()].find((v) => v.path === path.replace(/^\//, ''))!;
      return { snapshots: vm.snaps.map((s) => s.name), current: vm.snaps.find((s) => s.id === vm.current)?.name ?? null };
    },
    slowTasks: (ms: number) => void (taskMs = ms),
    failTaskPolls: (n: number) => {
      failPolls = n;
      failFrom = seq;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
