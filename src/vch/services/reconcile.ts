// After a restart of the VCH: the runtime's recovery settled into the database. Running
// containers stay running and are watched again; ones that vanished are marked exited ("Lost");
// ones that exited while the VCH was away get their exit recorded (and `--rm` ones go).
import { stateOf } from '../db.js';
import { type VchContext, nowIso } from './context.js';
import {
  isInterruptedCreate,
  removeEmptyImplicitPods,
  removeOrphanContainerDirs,
  undoInterruptedCreate,
} from './reconcile-interrupted.js';
import { LOST_EXIT_CODE, type Watchers } from './watchers.js';

export async function reconcile(ctx: VchContext, watchers: Watchers): Promise<void> {
  const { db, log } = ctx;
  const recovered = await ctx.runtime.recover();
  // Attachments of sandboxes that are gone (a crash cut their removal short) are released.
  await ctx.network?.reconcile(new Set(recovered.sandboxes));
  const states = new Map(recovered.containers.map((c) => [c.id, c]));
  for (const row of db.containers()) {
    const st = states.get(row.id);
    states.delete(row.id);
    if (!st) {
      if (row.status === 'exited') continue;
      if (isInterruptedCreate(row)) {
        await undoInterruptedCreate(ctx, row);
        continue;
      }
      db.updateState(
        row.id,
        {
          status: 'exited',
          ...(row.startedAt !== undefined && { startedAt: row.startedAt }),
          finishedAt: nowIso(),
          exitCode: LOST_EXIT_CODE,
          error: 'Lost',
        },
        row.restartCount,
      );
      log.warn({ container: row.id, name: row.name }, 'container vanished; marked exited');
    } else if (st.status === 'running') {
      watchers.notePid(row.id, st.pid);
      if (row.status !== 'running')
        db.updateState(
          row.id,
          { status: 'running', startedAt: st.startedAt ?? row.startedAt ?? nowIso() },
          row.restartCount,
        );
      watchers.watch(row.id);
    } else if (st.status === 'exited' && row.status !== 'exited') {
      db.updateState(row.id, { ...stateOf(row), status: 'running' }, row.restartCount);
      watchers.recordExit(row.id, st);
    }
  }
  await removeEmptyImplicitPods(ctx);
  await removeOrphanContainerDirs(ctx);
  // `--rm` containers that ended while the VCH was away go now.
  for (const row of db.containers())
    if (row.status === 'exited' && row.config.autoRemove) watchers.autoRemove(row.id);
  for (const id of states.keys())
    log.warn({ container: id }, 'the runtime has a container the VCH does not know; left alone');
  log.info(
    { containers: recovered.containers.length, sandboxes: recovered.sandboxes.length },
    'recovered',
  );
}
