// Exec tasks over the portlayer, as VIC's persona drives an exec session: a task join with
// `execIn` (extension) on a running pod's handle, a bind of the id it answers, a commit (which
// starts it), then `GET /tasks` (Inspect: state, exit code, output) and `GET /tasks/wait`.
// The state lives in exec-tasks.ts.
import { randomBytes } from 'node:crypto';
import {
  ROUTES,
  type TaskInspectConfig,
  type TaskJoinConfig,
  type TaskJoinResponse,
} from '../../api/portlayer/index.js';
import { invalidInput } from '../errors.js';
import type { ExecTasks } from './exec-tasks.js';
import type { ChangeSet, ExecTaskSpec, HandleStore } from './handles.js';
import {
  type Body,
  optBool,
  optNumber,
  optString,
  optStrings,
  readObject,
  sendJson,
} from './http.js';
import type { Router } from './router.js';

const ID = /^[0-9a-f]{64}$/;

/** The answer to a task join with `execIn`: a handle with the exec joined, and its id. */
export function joinExec(
  handles: HandleStore,
  execs: ExecTasks,
  set: ChangeSet,
  body: Body<TaskJoinConfig>,
): TaskJoinResponse {
  if (set.base === 'new')
    throw invalidInput('an exec joins a running container, not one being created');
  const id = optString(body, 'id') ?? randomBytes(32).toString('hex');
  if (!ID.test(id)) throw invalidInput(`task id ${JSON.stringify(id)}: want 64 hex digits`);
  if (set.execs.some((e) => e.id === id) || set.tasks.some((t) => t.id === id) || execs.has(id))
    throw invalidInput(`task id ${id} is in use`);
  const exec: ExecTaskSpec = {
    id,
    execIn: optString(body, 'execIn')!,
    path: body.path as string,
    args: optStrings(body, 'args') ?? [],
    env: optStrings(body, 'env') ?? [],
    workingDir: optString(body, 'workingDir') || undefined,
    user: optString(body, 'user') || undefined,
    timeoutSeconds: optNumber(body, 'timeoutSeconds', 1),
  };
  if (optBool(body, 'attach') === true) {
    exec.attach = true;
    exec.openStdin = optBool(body, 'openStdin') === true;
    exec.tty = optBool(body, 'tty') === true;
    if (exec.timeoutSeconds !== undefined)
      throw invalidInput('timeoutSeconds is for captured execs, not attached ones');
  } else if (optBool(body, 'openStdin') || optBool(body, 'tty'))
    throw invalidInput('openStdin and tty need attach: true (the streams of /interaction)');
  const handle = handles.derive(set.handle, (s) => ({ execs: [...s.execs, exec] }));
  return { handle, id };
}

export function addExecRoutes(router: Router, handles: HandleStore, execs: ExecTasks): void {
  router.add(ROUTES.taskInspect, async ({ req, res }) => {
    const body = await readObject<TaskInspectConfig>(req, ['handle', 'id']);
    const set = handles.get(body.handle as string);
    sendJson(res, 200, execs.inspect(body.id as string, set.containerId));
  });

  router.add(ROUTES.taskWait, async ({ req, res, signal }) => {
    const body = await readObject<TaskInspectConfig>(req, ['handle', 'id']);
    const set = handles.get(body.handle as string);
    await execs.wait(body.id as string, set.containerId, signal);
    sendJson(res, 200, undefined);
  });
}
