// `docker volume create/ls/inspect/rm` over the VCH's volumes, in Docker's shapes. The local
// driver's options: none (a directory on disk) or type=tmpfs device=tmpfs [o=size=N] (memory);
// any other driver or option is refused in one line.
import { randomBytes } from 'node:crypto';
import { errorKind, invalidInput } from '../errors.js';
import type { CreateVolumeRequest, VolumeInfo } from '../types.js';
import type { Vch } from '../vch.js';
import { pruneFilter } from '../volumes/volume-prune.js';
import { parseFilters, queryBool, readJson, sendEmpty, sendJson } from './http.js';
import { compareVersions, type Router } from './router.js';

/** Docker's Volume. */
function volumeShape(v: VolumeInfo) {
  return {
    Name: v.name,
    Driver: 'local',
    Mountpoint: v.path,
    CreatedAt: v.created,
    Labels: v.metadata,
    Scope: 'local',
    Options: dockerOptions(v),
    ...(v.usageBytes !== undefined && {
      UsageData: { Size: v.usageBytes, RefCount: v.usedBy.length },
    }),
  };
}

function dockerOptions(v: VolumeInfo): Record<string, string> | null {
  if (v.driver === 'bind') return { type: 'none', o: 'bind', device: v.path };
  if (v.medium === 'memory')
    return {
      type: 'tmpfs',
      device: 'tmpfs',
      ...(v.sizeLimitBytes && { o: `size=${v.sizeLimitBytes}` }),
    };
  return null;
}

/** `docker volume create --opt`s → the core's driver args. */
function createRequest(body: Record<string, unknown>): CreateVolumeRequest {
  const name =
    typeof body.Name === 'string' && body.Name !== '' ? body.Name : randomBytes(32).toString('hex');
  const driver = body.Driver ?? 'local';
  if (driver !== '' && driver !== 'local')
    throw invalidInput(`volume driver ${JSON.stringify(driver)} is not supported (only local)`);
  const opts = (body.DriverOpts ?? {}) as Record<string, unknown>;
  const labels = (body.Labels ?? {}) as Record<string, unknown>;
  if (typeof labels !== 'object' || Object.values(labels).some((v) => typeof v !== 'string'))
    throw invalidInput('invalid Labels: want an object of strings');
  const metadata = labels as Record<string, string>;
  const keys = Object.keys(opts);
  if (keys.length === 0) return { name, driver: 'local', metadata };
  if (
    opts.type === 'tmpfs' &&
    opts.device === 'tmpfs' &&
    keys.every((k) => ['type', 'device', 'o'].includes(k))
  ) {
    const args: Record<string, string> = { medium: 'memory' };
    for (const o of String(opts.o ?? '')
      .split(',')
      .filter(Boolean)) {
      const m = /^size=(\d+)([kmg]?)$/i.exec(o);
      if (!m)
        throw invalidInput(`tmpfs option ${JSON.stringify(o)} is not supported (size=N[k|m|g])`);
      const unit = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[
        m[2].toLowerCase() as '' | 'k' | 'm' | 'g'
      ];
      args.sizeLimit = String(Number(m[1]) * unit);
    }
    return { name, driver: 'local', driverArgs: args, metadata };
  }
  throw invalidInput(
    `volume options ${keys.join(', ')} are not supported: only type=tmpfs,device=tmpfs[,o=size=N]`,
  );
}

export function addVolumeRoutes(router: Router, vch: Vch): void {
  router.add('GET', '/volumes', async ({ res }) => {
    sendJson(res, 200, { Volumes: vch.volumes.list().map(volumeShape), Warnings: [] });
  });

  router.add('POST', '/volumes/create', async ({ req, res }) => {
    const body = await readJson(req);
    sendJson(res, 201, volumeShape(await vch.volumes.create(createRequest(body))));
  });

  // Volumes no container mounts and no pod owns; since API 1.42 only anonymous ones unless
  // all=true (volume-prune.ts).
  router.add('POST', '/volumes/prune', async ({ res, query, apiVersion }) => {
    const filter = pruneFilter(parseFilters(query), compareVersions(apiVersion, '1.42') < 0);
    const { removed, bytes } = await vch.volumes.prune(filter);
    sendJson(res, 200, { VolumesDeleted: removed, SpaceReclaimed: bytes });
  });

  router.add('GET', '/volumes/{name}', async ({ res, params }) => {
    sendJson(res, 200, volumeShape(await vch.volumes.inspect(params[0])));
  });

  router.add('DELETE', '/volumes/{name}', async ({ res, params, query }) => {
    // -f: a volume that is not there is no error (one in use still is, as on Docker).
    const force = queryBool(query, 'force');
    await vch.volumes.remove(params[0]).catch((e: Error) => {
      if (force && errorKind(e) === 'NotFound') return;
      e.message = `remove ${params[0]}: ${e.message}`;
      throw e;
    });
    sendEmpty(res, 204);
  });
}
