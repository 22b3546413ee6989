// Volumes: VIC's /storage/volumes (CreateVolume, ListVolumes, GetVolume, RemoveVolume,
// VolumeJoin) over the VCH's volume store, and the WriteVolumeFiles extension that replaces a
// volume's content atomically. A join adds one mount to one task of the handle; it reaches the
// VCH when the handle is committed.
import {
  type HandleResponse,
  ROUTES,
  type VolumeJoinConfig,
  type VolumeRequest,
  type VolumeResponse,
  type WriteVolumeFilesRequest,
} from '../../api/portlayer/index.js';
import { invalidInput } from '../errors.js';
import { readBody } from '../http-edge.js';
import type { Vch } from '../vch.js';
import type { VolumeInfo } from '../types.js';
import type { PayloadFile } from '../volumes/atomic-writer.js';
import { subPathElements } from '../../runtime/core/volume-mounts.js';
import type { HandleStore } from './handles.js';
import { type Body, readObject, sendJson } from './http.js';
import type { Router } from './router.js';

/** base64 of the 16 MiB a write may carry, and the JSON around it. */
const MAX_FILES_BODY = 24 << 20;

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (
    typeof v !== 'object' ||
    Array.isArray(v) ||
    Object.values(v).some((x) => typeof x !== 'string')
  )
    throw invalidInput(`${what} must be an object of strings`);
  return v as Record<string, string>;
}

function response(v: VolumeInfo, store: string): VolumeResponse {
  return {
    Name: v.name,
    Label: v.name,
    Store: store,
    Driver: v.driver,
    Metadata: v.metadata,
    ...(v.usageBytes !== undefined && { usageBytes: v.usageBytes }),
    ...(v.usage && { usage: v.usage }),
  };
}

export function addVolumeRoutes(router: Router, vch: Vch, handles: HandleStore, store: string) {
  router.add(ROUTES.createVolume, async ({ req, res }) => {
    const body = await readObject<VolumeRequest>(req, ['Name', 'Driver']);
    if (body.Store !== undefined && body.Store !== store)
      throw invalidInput(`no volume store ${JSON.stringify(body.Store)}`);
    if (body.Capacity !== undefined && !Number.isSafeInteger(body.Capacity))
      throw invalidInput('Capacity must be a whole number of bytes (-1 for none)');
    const driver = body.Driver as string;
    if (driver !== 'local' && driver !== 'bind')
      throw invalidInput(`volume driver ${JSON.stringify(driver)} is not "local" or "bind"`);
    const v = await vch.volumes.create({
      name: body.Name as string,
      driver,
      driverArgs: stringMap(body.DriverArgs, 'DriverArgs'),
      capacityBytes: body.Capacity as number | undefined,
      metadata: stringMap(body.Metadata, 'Metadata'),
    });
    sendJson(res, 201, response(v, store));
  });

  router.add(ROUTES.listVolumes, async ({ res }) =>
    sendJson(
      res,
      200,
      vch.volumes.list().map((v) => response(v, store)),
    ),
  );

  router.add(ROUTES.getVolume, async ({ res, params }) =>
    sendJson(res, 200, response(await vch.volumes.inspect(params[0]), store)),
  );

  router.add(ROUTES.removeVolume, async ({ res, params }) => {
    await vch.volumes.remove(params[0]);
    sendJson(res, 200, { code: 200, message: `volume ${params[0]} removed` });
  });

  router.add(ROUTES.volumeJoin, async ({ req, res, params }) => {
    const body = await readObject<VolumeJoinConfig>(req, ['Handle', 'MountPath']);
    const flags = stringMap(body.Flags, 'Flags') ?? {};
    for (const k of Object.keys(flags))
      if (!['task', 'readOnly', 'subPath'].includes(k))
        throw invalidInput(`VolumeJoin takes no flag ${JSON.stringify(k)}`);
    const set = handles.get(body.Handle as string);
    const volume = vch.volumes.get(params[0]);
    const mountPath = body.MountPath as string;
    if (!mountPath.startsWith('/') || mountPath.split('/').includes('..'))
      throw invalidInput(`MountPath ${JSON.stringify(mountPath)} is not a clean absolute path`);
    if (flags.readOnly !== undefined && !['true', 'false'].includes(flags.readOnly))
      throw invalidInput(`readOnly ${JSON.stringify(flags.readOnly)} is not "true" or "false"`);
    if (flags.subPath !== undefined) subPathElements(flags.subPath);
    const name = flags.task ?? (set.tasks.length === 1 ? set.tasks[0].name : undefined);
    if (name === undefined)
      throw invalidInput('VolumeJoin needs Flags.task: the handle has several tasks (or none)');
    const task = set.tasks.find((t) => t.name === name);
    if (!task) throw invalidInput(`task ${name} is not joined on this handle (TaskJoin first)`);
    const mount = {
      type: 'volume' as const,
      source: volume.name,
      destination: mountPath,
      ...(flags.readOnly === 'true' && { readOnly: true }),
      ...(flags.subPath && { subPath: flags.subPath }),
    };
    const handle = handles.derive(set.handle, (s) => ({
      tasks: s.tasks.map((t) =>
        t.name === name ? { ...t, mounts: [...(t.mounts ?? []), mount] } : t,
      ),
    }));
    sendJson(res, 200, { handle } satisfies HandleResponse);
  });

  router.add(ROUTES.writeVolumeFiles, async ({ req, res, params }) => {
    const id = (v: unknown, what: string) => {
      if (v === undefined) return undefined;
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xfffffffe)
        throw invalidInput(`${what} ${JSON.stringify(v)} is not a uid/gid`);
      return v as number;
    };
    let body: Body<WriteVolumeFilesRequest>;
    try {
      body = JSON.parse((await readBody(req, MAX_FILES_BODY)).toString('utf8')) as typeof body;
    } catch (e) {
      if (e instanceof SyntaxError)
        throw invalidInput(`malformed JSON in request body: ${e.message}`);
      throw e;
    }
    if (typeof body !== 'object' || body === null || !Array.isArray(body.files))
      throw invalidInput('request body needs "files" (a list)');
    const files: PayloadFile[] = (body.files as unknown[]).map((f, i) => {
      const o = (f ?? {}) as Record<string, unknown>;
      if (typeof o.path !== 'string' || typeof o.data !== 'string' || typeof o.mode !== 'number')
        throw invalidInput(`files[${i}] needs path (string), data (base64) and mode (number)`);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(o.data))
        throw invalidInput(`files[${i}].data is not base64`);
      const uid = id(o.uid, `files[${i}].uid`);
      return {
        path: o.path,
        data: Buffer.from(o.data, 'base64'),
        mode: o.mode,
        ...(uid !== undefined && { uid }),
      };
    });
    await vch.volumes.writeFiles(params[0], files, {
      uid: id(body.uid, 'uid'),
      gid: id(body.gid, 'gid'),
    });
    res.writeHead(204).end();
  });
}
