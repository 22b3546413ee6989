// Container routes: handles (new, of an existing container, commit, state), info and list,
// remove, and the task routes VIC keeps under /containers: logs, wait, signal. A container id
// names a pod; these also take a task id, which names one of its tasks.
import { randomBytes } from 'node:crypto';
import {
  type ContainerCreateConfig,
  type ContainerCreatedInfo,
  type ContainerGetStateResponse,
  ROUTES,
} from '../../api/portlayer/index.js';
import { checkSysctls } from '../../runtime/sysctls.js';
import { createNamesConfig } from './create-names.js';
import { portMappingsOf } from './create-ports.js';
import { conflict, invalidInput, notFound } from '../errors.js';
import type { Vch } from '../vch.js';
import type { Committer } from './commit.js';
import { type Directory, podPlId } from './directory.js';
import type { HandleStore } from './handles.js';
import {
  optBool,
  optNumber,
  optString,
  queryBool,
  queryInt,
  queryUnixNanos,
  readJsonBody,
  readObject,
  sendJson,
  write,
} from './http.js';
import { containerInfoOf, podState } from './info.js';

import type { Router } from './router.js';

const POD_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const STREAMS = new Set(['stdout', 'stderr', 'all']);

export function addContainerRoutes(
  router: Router,
  vch: Vch,
  handles: HandleStore,
  dir: Directory,
  committer: Committer,
): void {
  /** One commit at a time per container: the version check and the apply are one step. */
  const locks = new Map<string, Promise<unknown>>();
  const serial = <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const next = (locks.get(id) ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch(() => {});
    locks.set(id, tail);
    void tail.then(() => locks.get(id) === tail && locks.delete(id));
    return next;
  };

  async function resolve(id: string) {
    const found = await dir.resolve(id);
    if (!found) throw notFound(`no such container or task: ${id}`);
    return found;
  }

  router.add(ROUTES.create, async ({ req, res, query }) => {
    const body = await readObject<ContainerCreateConfig>(req);
    const annotations = body.annotations ?? {};
    if (
      typeof annotations !== 'object' ||
      annotations === null ||
      Object.values(annotations).some((v) => typeof v !== 'string')
    )
      throw invalidInput('annotations must be an object of strings');
    const name = query.get('name')?.replace(/^\//, '') || optString(body, 'name');
    if (name !== undefined && !POD_NAME.test(name))
      throw invalidInput(
        `invalid container name ${JSON.stringify(name)}: [a-zA-Z0-9][a-zA-Z0-9_.-]+`,
      );
    const sysctls = body.sysctls ?? {};
    if (
      typeof sysctls !== 'object' ||
      sysctls === null ||
      Object.values(sysctls).some((v) => typeof v !== 'string')
    )
      throw invalidInput('sysctls must be an object of strings');
    const config: ContainerCreateConfig = {
      name,
      hostname: optString(body, 'hostname') || undefined,
      numCPUs: optNumber(body, 'numCPUs', 1),
      memoryMB: optNumber(body, 'memoryMB', 1),
      annotations: annotations as Record<string, string>,
      ...(optBool(body, 'shareProcessNamespace') && { shareProcessNamespace: true }),
      ...(optBool(body, 'hostNetwork') && { hostNetwork: true }),
      ...(optBool(body, 'hostPID') && { hostPID: true }),
      ...(optBool(body, 'hostIPC') && { hostIPC: true }),
      // Checked now, so a bad one is this request's 400, not a failed commit.
      ...(Object.keys(sysctls).length > 0 && {
        sysctls: checkSysctls(sysctls as Record<string, string>),
      }),
    };
    Object.assign(config, createNamesConfig(body));
    const ports = portMappingsOf(body.ports);
    if (ports.length > 0) config.ports = ports;
    const id = randomBytes(32).toString('hex');
    const created: ContainerCreatedInfo = { id, handle: handles.forNew(id, config) };
    sendJson(res, 200, created);
  });

  router.add(ROUTES.containerList, async ({ res, query }) => {
    const all = queryBool(query, 'all');
    const out = [];
    for (const pod of await vch.listPods()) {
      const tasks = await dir.tasksOf(pod);
      if (!all && podState(tasks) !== 'Running') continue;
      out.push(containerInfoOf(pod, tasks));
    }
    sendJson(res, 200, out);
  });

  router.add(ROUTES.containerInfo, async ({ res, params }) => {
    const { pod, tasks, task } = await resolve(params[0]);
    sendJson(res, 200, containerInfoOf(pod, tasks, task));
  });

  router.add(ROUTES.containerHandle, async ({ res, params }) => {
    const pod = await dir.pod(params[0]);
    if (!pod) throw notFound(`no such container: ${params[0]}`);
    sendJson(res, 200, handles.forExisting(podPlId(pod)));
  });

  router.add(ROUTES.commit, async ({ res, params, query }) => {
    const waitTime = queryInt(query, 'wait_time', -1);
    const execsOnly = handles.takeExecsOnly(params[0]);
    if (execsOnly) {
      await committer.commitExecs(execsOnly);
      return sendJson(res, 200, undefined);
    }
    const containerId = handles.get(params[0]).containerId;
    await serial(containerId, async () => {
      const exists = (await dir.pod(containerId)) !== undefined;
      const set = handles.take(params[0], exists);
      await committer.commit(set, waitTime !== undefined && waitTime >= 0 ? waitTime : undefined);
      handles.bump(containerId);
    });
    sendJson(res, 200, undefined);
  });

  router.add(ROUTES.stateChange, async ({ req, res, params }) => {
    const body = await readJsonBody(req);
    if (body !== 'RUNNING' && body !== 'STOPPED')
      throw invalidInput('state must be "RUNNING" or "STOPPED"');
    sendJson(
      res,
      200,
      handles.derive(params[0], () => ({ state: body })),
    );
  });

  router.add(ROUTES.getState, async ({ res, params }) => {
    const set = handles.get(params[0]);
    let state = set.state;
    if (!state) {
      const found = set.base === 'new' ? undefined : await dir.resolve(set.containerId);
      state = found && podState(found.tasks) === 'Running' ? 'RUNNING' : 'STOPPED';
    }
    const answer: ContainerGetStateResponse = { handle: set.handle, state };
    sendJson(res, 200, answer);
  });

  router.add(ROUTES.containerRemove, async ({ res, params, query }) => {
    const force = queryBool(query, 'force');
    const { pod, tasks, task } = await resolve(params[0]);
    if (!force && tasks.some((t) => t.status === 'running'))
      throw conflict(
        `container ${params[0]} is running: stop it before removing it, or remove it with force`,
      );
    await serial(podPlId(pod), async () => {
      if (task) await vch.removeContainer(task.id, { force: true });
      else {
        await vch.removePod(pod.id, { force: true });
        handles.forget(podPlId(pod));
      }
    });
    sendJson(res, 200, undefined);
  });

  router.add(ROUTES.containerSignal, async ({ res, params, query }) => {
    const signal = queryInt(query, 'signal', 1, true)!;
    if (signal > 64) throw invalidInput(`invalid signal ${signal}: want 1 to 64`);
    const { tasks, task } = await resolve(params[0]);
    if (task && task.status !== 'running') throw conflict(`task ${params[0]} is not running`);
    await Promise.all(
      tasks
        .filter((t) => t.status === 'running')
        .map((t) =>
          vch.killContainer(t.id, String(signal)).catch((e: unknown) => {
            // It exited between the look and the signal: nothing to signal.
            if ((e as { kind?: string }).kind !== 'Conflict') throw e;
          }),
        ),
    );
    sendJson(res, 200, undefined);
  });

  router.add(ROUTES.containerWait, async ({ res, params, query, signal }) => {
    const timeout = queryInt(query, 'timeout', 0, true)!;
    const found = await resolve(params[0]);
    const limit = AbortSignal.any([signal, AbortSignal.timeout(timeout * 1000)]);
    await Promise.all(
      found.tasks
        .filter((t) => t.status === 'running')
        .map((t) => vch.waitContainer(t.id, 'not-running', limit).catch(() => {})),
    );
    if (signal.aborted) return;
    const now = await resolve(params[0]);
    sendJson(res, 200, containerInfoOf(now.pod, now.tasks, now.task));
  });

  router.add(ROUTES.containerLogs, async ({ res, params, query, signal }) => {
    const follow = queryBool(query, 'follow');
    const since = queryUnixNanos(query, 'since');
    const timestamps = queryBool(query, 'timestamp');
    const tail = queryInt(query, 'taillines', 0);
    const limitBytes = queryInt(query, 'limitBytes', 1);
    const deadline = queryUnixNanos(query, 'deadline');
    const stream = query.get('stream') ?? 'all';
    // Ours: the previous instance's log of a restarted task (kubectl logs --previous).
    const previous = queryBool(query, 'previous');
    if (!STREAMS.has(stream))
      throw invalidInput(`invalid stream ${JSON.stringify(stream)}: want stdout, stderr or all`);
    const { tasks, task } = await resolve(params[0]);
    const target = task ?? (tasks.length === 1 ? tasks[0] : undefined);
    if (!target)
      throw invalidInput(
        `container ${params[0]} has ${tasks.length} tasks: ask for the logs of one task id`,
      );
    const signals = [signal];
    if (deadline !== undefined) {
      const ms = Number(deadline / 1_000_000n) - Date.now();
      signals.push(AbortSignal.timeout(Math.max(0, ms)));
    }
    const chunks = await vch.logs(target.id, {
      follow,
      timestamps,
      stream: stream as 'stdout' | 'stderr' | 'all',
      signal: AbortSignal.any(signals),
      ...(previous && { previous, follow: false }),
      ...(since !== undefined && { since }),
      ...(tail !== undefined && { tail }),
      ...(limitBytes !== undefined && { limitBytes }),
    });
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    try {
      for await (const chunk of chunks as AsyncIterable<{ data: Uint8Array }>) {
        if (!(await write(res, chunk.data))) break;
      }
    } finally {
      chunks.destroy();
    }
    res.end();
  });
}
