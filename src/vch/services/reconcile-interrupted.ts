// Operations a crash (SIGKILL, power loss) cut short, undone after a restart. A create records
// the container in the database before the runtime makes it, and a remove deletes the record
// before the implicit pod's sandbox goes; so a crash can leave
// - a container recorded as created that the runtime never finished making: its create never
//   answered, so nobody holds its id — it goes (row, directory, the sandbox made for it), as if
//   the create had failed, rather than show up as an exited container with no known status;
// - an implicit pod (the sandbox of one `docker create`) whose container is gone: its sandbox
//   (a pause process, its network attachment) would otherwise stay forever;
// - the directory (its log) of a container whose record is gone: removed last, so a crash just
//   before leaves it behind.
import { readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ContainerRow } from '../db.js';
import type { VchContext } from './context.js';
import { removeSandbox } from './pods.js';

/** A row the runtime does not know, from a create that never finished. */
export function isInterruptedCreate(row: ContainerRow): boolean {
  return row.status === 'created' && row.startedAt === undefined;
}

export async function undoInterruptedCreate(ctx: VchContext, row: ContainerRow): Promise<void> {
  const { db, log } = ctx;
  db.transaction(() => db.deleteContainer(row.id));
  await ctx.removeContainerDir(row.id);
  log.warn({ container: row.id, name: row.name }, 'create interrupted by a crash; undone');
}

/** Implicit pods left without a container (a remove cut short): their sandboxes go. */
export async function removeEmptyImplicitPods(ctx: VchContext): Promise<void> {
  const { db, runtime, log } = ctx;
  for (const pod of db.pods()) {
    if (!pod.implicit || db.containersOfPod(pod.id).length > 0) continue;
    try {
      await removeSandbox(runtime, pod.id);
      db.deletePod(pod.id);
      log.warn({ pod: pod.id }, 'sandbox of a removed container left by a crash; removed');
    } catch (e) {
      // Tried again at the next start; the VCH serves meanwhile.
      log.error({ pod: pod.id, err: (e as Error).message }, 'removing a leftover sandbox failed');
    }
  }
}

/** Container directories (`<state>/containers/<id>`) of containers no longer recorded. */
export async function removeOrphanContainerDirs(ctx: VchContext): Promise<void> {
  const parent = dirname(ctx.containerDir('x'));
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    const id = /^([0-9a-f]{64})(\.previous)?$/.exec(name)?.[1];
    if (!id || ctx.db.container(id)) continue;
    await ctx.removeContainerDir(id);
    ctx.log.warn({ container: name }, 'directory of a removed container left by a crash; removed');
  }
}
