// Joins: each takes a handle and answers a new one with one more change (VIC's storage image
// join, task join and bind, logging and interaction joins, scope add and bind). Nothing reaches
// the VCH until the handle is committed.
import { randomBytes } from 'node:crypto';
import {
  type BindContainerResponse,
  type EndpointConfig,
  type HandleRequest,
  type HandleResponse,
  type Image,
  type ImageJoinConfig,
  ROUTES,
  type ScopeConfig,
  type TaskBindConfig,
  type TaskJoinConfig,
  type TaskJoinResponse,
  type TaskRemoveConfig,
} from '../../api/portlayer/index.js';
import { invalidInput, notFound } from '../errors.js';
import type { Vch } from '../vch.js';
import { type Directory, taskPlId } from './directory.js';
import { endpointsOf } from './info.js';
import type { ExecTasks } from './exec-tasks.js';
import type { HandleStore, TaskSpec } from './handles.js';
import type { SeccompSpec, SecuritySpec } from '../../runtime/runtime.js';
import {
  type Body,
  optBool,
  optNumber,
  optString,
  optStrings,
  readObject,
  sendJson,
} from './http.js';
import { joinExec } from './routes-exec.js';
import type { Router } from './router.js';

const TASK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID = /^[0-9a-f]{64}$/;

/** The scope every VCH has: each pod's own network namespace (loopback; no address). */
export const DEFAULT_SCOPE: ScopeConfig = {
  id: 'default',
  name: 'default',
  scopeType: 'isolated',
  internal: true,
  dns: [],
};

export function addJoinRoutes(
  router: Router,
  vch: Vch,
  handles: HandleStore,
  dir: Directory,
  storeName: string,
  execs: ExecTasks,
): void {
  router.add(ROUTES.imageJoin, async ({ req, res, params }) => {
    const [store, id] = params;
    if (store !== storeName) throw notFound(`no image store ${JSON.stringify(store)}`);
    const body = await readObject<ImageJoinConfig>(req, ['handle', 'deltaID']);
    handles.get(body.handle as string);
    const wanted = optString(body, 'imageID') || id;
    const image = await vch.inspectImage(wanted);
    const handle = handles.derive(body.handle as string, (s) => ({
      images: new Map(s.images).set(body.deltaID as string, {
        image: image.id,
        repoName: optString(body, 'repoName'),
      }),
    }));
    sendJson(res, 200, { handle } satisfies HandleResponse);
  });

  router.add(ROUTES.getImage, async ({ res, params }) => {
    const [store, id] = params;
    if (store !== storeName) throw notFound(`no image store ${JSON.stringify(store)}`);
    const image = await vch.inspectImage(id);
    sendJson(res, 200, {
      ID: image.id,
      Store: storeName,
      Metadata: { references: image.references.join(','), created: String(image.created) },
    } satisfies Image);
  });

  router.add(ROUTES.taskJoin, async ({ req, res }) => {
    const body = await readObject<TaskJoinConfig>(req, ['handle', 'path']);
    const set = handles.get(body.handle as string);
    if (optString(body, 'execIn') !== undefined)
      return sendJson(res, 200, joinExec(handles, execs, set, body));
    const id = optString(body, 'id') ?? randomBytes(32).toString('hex');
    if (!ID.test(id)) throw invalidInput(`task id ${JSON.stringify(id)}: want 64 hex digits`);
    const name = optString(body, 'name') ?? `task-${set.tasks.length}`;
    if (!TASK_NAME.test(name)) throw invalidInput(`invalid task name ${JSON.stringify(name)}`);
    if (set.tasks.some((t) => t.name === name || t.id === id))
      throw invalidInput(`the handle has a task named ${name} (or with id ${id}) already`);
    const existing = set.base === 'new' ? undefined : await dir.resolve(set.containerId);
    // A task removed in this handle leaves its name free (a container whose image changed).
    if (existing?.tasks.some((t) => t.nameInPod === name && !set.remove?.includes(taskPlId(t))))
      throw invalidInput(`container ${set.containerId} has a task named ${name} already`);
    const task: TaskSpec = {
      id,
      name,
      deltaID: optString(body, 'deltaID') ?? name,
      path: body.path as string,
      args: optStrings(body, 'args') ?? [],
      env: optStrings(body, 'env') ?? [],
      workingDir: optString(body, 'workingDir') || undefined,
      user: optString(body, 'user') || undefined,
      stopSignal: optString(body, 'stopSignal') || undefined,
      memoryLimitBytes: optNumber(body, 'memoryLimitBytes', 1),
      cpuMillis: optNumber(body, 'cpuMillis', 1),
      security: taskSecurity(body),
      groupAdd: optStrings(body, 'groupAdd'),
      terminationMessagePath: messagePath(body),
      pidNamespaceOf: optString(body, 'pidNamespaceOf'),
      ...(optBool(body, 'openStdin') && { openStdin: true }),
      ...(optBool(body, 'openStdin') && optBool(body, 'stdinOnce') && { stdinOnce: true }),
      ...(optBool(body, 'tty') && { tty: true }),
    };
    const target = task.pidNamespaceOf;
    if (
      target !== undefined &&
      (target === name ||
        !(
          set.tasks.some((t) => t.name === target) ||
          existing?.tasks.some((t) => t.nameInPod === target)
        ))
    )
      throw invalidInput(
        `task ${name}: pidNamespaceOf ${JSON.stringify(target)}: no other task of that name in the container`,
      );
    if (!set.images.has(task.deltaID))
      throw invalidInput(`task ${name}: join an image as ${JSON.stringify(task.deltaID)} first`);
    const handle = handles.derive(set.handle, (s) => ({ tasks: [...s.tasks, task] }));
    sendJson(res, 200, { handle, id } satisfies TaskJoinResponse);
  });

  router.add(ROUTES.taskBind, async ({ req, res }) => {
    const body = await readObject<TaskBindConfig>(req, ['handle', 'id']);
    const set = handles.get(body.handle as string);
    const id = body.id as string;
    const known =
      set.tasks.some((t) => t.id === id) ||
      set.execs.some((e) => e.id === id) ||
      (set.base !== 'new' &&
        (await dir.resolve(set.containerId))?.tasks.some((t) => taskPlId(t) === id));
    if (!known) throw notFound(`no task ${id} in container ${set.containerId}`);
    const handle = handles.derive(set.handle, (s) => ({ bind: [...s.bind, id] }));
    sendJson(res, 200, { handle } satisfies HandleResponse);
  });

  router.add(ROUTES.taskRemove, async ({ req, res }) => {
    const body = await readObject<TaskRemoveConfig>(req, ['handle', 'id']);
    const set = handles.get(body.handle as string);
    const id = body.id as string;
    const known =
      set.base !== 'new' &&
      (await dir.resolve(set.containerId))?.tasks.some((t) => taskPlId(t) === id);
    if (!known) throw notFound(`no task ${id} in container ${set.containerId}`);
    const handle = handles.derive(set.handle, (s) => ({ remove: [...(s.remove ?? []), id] }));
    sendJson(res, 200, { handle } satisfies HandleResponse);
  });

  for (const [route, field] of [
    [ROUTES.loggingJoin, 'logging'],
    [ROUTES.interactionJoin, 'interaction'],
  ] as const) {
    router.add(route, async ({ req, res }) => {
      const body = await readObject<HandleRequest>(req, ['handle']);
      const handle = handles.derive(body.handle as string, () => ({ [field]: true }));
      sendJson(res, 200, { handle } satisfies HandleResponse);
    });
  }

  // ---- scopes: the pod's own network namespace, and the VCH's bridge network if it has one ----

  /** The scopes: "default" always, "bridge" where the VCH has a bridge network. */
  function scopes(): ScopeConfig[] {
    const net = vch.network();
    if (!net) return [DEFAULT_SCOPE];
    const bridge: ScopeConfig = {
      id: net.scope,
      name: net.scope,
      scopeType: 'bridge',
      subnet: net.subnet,
      gateway: net.gateway,
      dns: [],
      internal: false,
      annotations: { bridge: net.bridge },
    };
    return [bridge, DEFAULT_SCOPE];
  }

  function scope(idName: string): ScopeConfig {
    const s = scopes().find((x) => x.name === idName || x.id === idName);
    if (!s) throw notFound(`no scope ${JSON.stringify(idName)}`);
    return s;
  }

  router.add(ROUTES.listScopes, async ({ res }) => sendJson(res, 200, scopes()));

  router.add(ROUTES.addContainer, async ({ req, res, params }) => {
    scope(params[0]);
    const body = await readObject<HandleRequest>(req, ['handle']);
    const handle = handles.derive(body.handle as string, (s) => ({
      scopes: s.scopes.includes(params[0]) ? s.scopes : [...s.scopes, params[0]],
    }));
    sendJson(res, 200, handle);
  });

  router.add(ROUTES.containerEndpoints, async ({ res, params }) => {
    sendJson(res, 200, await endpointsFor(params[0]));
  });

  for (const route of [ROUTES.bindContainer, ROUTES.unbindContainer])
    router.add(route, async ({ res, params }) => {
      const set = handles.get(params[0]);
      const handle = handles.derive(set.handle, () => ({}));
      const answer: BindContainerResponse = { handle, endpoints: await endpointsFor(set.handle) };
      sendJson(res, 200, answer);
    });

  router.add(ROUTES.listScope, async ({ res, params }) => {
    sendJson(res, 200, [scope(params[0])]);
  });

  async function endpointsFor(handleOrId: string): Promise<EndpointConfig[]> {
    const found = await dir.resolve(handleOrId);
    if (found) return endpointsOf(found.pod);
    const set = handles.get(handleOrId);
    const pod = set.base === 'new' ? undefined : await dir.pod(set.containerId);
    const known = pod ? endpointsOf(pod) : [];
    return set.scopes
      .filter((s) => !known.some((e) => e.scope === s))
      .map((scope): EndpointConfig => ({
        id: `${set.containerId.slice(0, 12)}-${scope}`,
        name: set.create?.name ?? set.containerId,
        scope,
        address: '',
        gateway: '',
        container: set.containerId,
        ports: [],
        aliases: [],
        nameservers: [],
      }))
      .concat(known);
  }
}

/** The task's seccomp extension fields; undefined: the runtime's default (RuntimeDefault). */
function taskSeccomp(body: Body<TaskJoinConfig>): SeccompSpec | undefined {
  const type = optString(body, 'seccompProfile');
  const profile = optString(body, 'seccompLocalhostProfile');
  if (type === 'Localhost') {
    if (!profile) throw invalidInput('seccompProfile Localhost needs seccompLocalhostProfile');
    return { type, profile };
  }
  if (profile !== undefined)
    throw invalidInput('seccompLocalhostProfile goes only with seccompProfile Localhost');
  if (type === undefined || type === 'RuntimeDefault') return undefined;
  if (type === 'Unconfined') return { type };
  throw invalidInput(
    `seccompProfile ${JSON.stringify(type)} is not RuntimeDefault, Unconfined or Localhost`,
  );
}

/** The task's terminationMessagePath: an absolute path, or undefined. */
function messagePath(body: Body<TaskJoinConfig>): string | undefined {
  const p = optString(body, 'terminationMessagePath');
  if (!p) return undefined;
  if (!p.startsWith('/') || p.includes('\0') || p.split('/').includes('..'))
    throw invalidInput(`terminationMessagePath ${JSON.stringify(p)}: want an absolute path`);
  return p;
}

/** The task's security extension fields, or undefined when it asks nothing. */
function taskSecurity(body: Body<TaskJoinConfig>): SecuritySpec | undefined {
  const seccomp = taskSeccomp(body);
  const spec: SecuritySpec = {
    ...(seccomp && { seccomp }),
    ...(optBool(body, 'readOnlyRootfs') && { readOnlyRootfs: true }),
    ...(optStrings(body, 'capAdd')?.length && { capAdd: optStrings(body, 'capAdd') }),
    ...(optStrings(body, 'capDrop')?.length && { capDrop: optStrings(body, 'capDrop') }),
    ...(optBool(body, 'noNewPrivileges') && { noNewPrivileges: true }),
    ...(optBool(body, 'privileged') && { privileged: true }),
  };
  return Object.keys(spec).length > 0 ? spec : undefined;
}
