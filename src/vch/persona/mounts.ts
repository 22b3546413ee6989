// Docker's volume fields of a create (HostConfig.Binds from -v, HostConfig.Mounts from --mount,
// HostConfig.Tmpfs from --tmpfs) → the core's container mounts. Named volumes, host paths and
// tmpfs are applied; anything else (volume drivers, propagation, SELinux labels, anonymous
// volumes, tmpfs modes) is refused in one line, never ignored.
import { invalidInput } from '../errors.js';
import type { ContainerMount } from '../types.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** "64m", "1g", "1048576" → bytes. */
function parseSize(v: string, what: string): number {
  const m = /^(\d+)([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw invalidInput(`invalid ${what} ${JSON.stringify(v)}: want bytes, or k/m/g`);
  const unit = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[
    m[2].toLowerCase() as '' | 'k' | 'm' | 'g'
  ];
  return Number(m[1]) * unit;
}

/** -v SRC:DST[:OPTS]: SRC absolute is a host path, else a volume's name. */
function parseBind(spec: string): ContainerMount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '' || parts[1] === '')
    throw invalidInput(
      `invalid volume specification ${JSON.stringify(spec)}: want SRC:DST[:ro|rw]`,
    );
  const [source, destination, opts = ''] = parts;
  let readOnly = false;
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro') readOnly = true;
    else if (o !== 'rw')
      throw invalidInput(
        `volume option ${JSON.stringify(o)} of ${spec} is not supported (only ro, rw)`,
      );
  }
  const type = source.startsWith('/') ? 'bind' : 'volume';
  return { type, source, destination, ...(readOnly && { readOnly }) };
}

/** One --mount. */
function parseMount(m: unknown): ContainerMount {
  if (!isObject(m)) throw invalidInput('invalid HostConfig.Mounts entry: want an object');
  const type = m.Type;
  const target = m.Target;
  if (typeof target !== 'string' || target === '') throw invalidInput('a mount needs a target');
  const readOnly = m.ReadOnly === true;
  if (isObject(m.BindOptions) && Object.values(m.BindOptions).some((v) => v !== '' && v !== false))
    throw invalidInput(`bind options (propagation and such) of ${target} are not supported`);
  if (m.Consistency !== undefined && m.Consistency !== '' && m.Consistency !== 'default')
    throw invalidInput(`consistency ${JSON.stringify(m.Consistency)} is not supported`);
  const source = typeof m.Source === 'string' ? m.Source : '';
  if (type === 'bind') {
    if (!source.startsWith('/'))
      throw invalidInput(`bind source ${JSON.stringify(source)} is not absolute`);
    return { type: 'bind', source, destination: target, ...(readOnly && { readOnly }) };
  }
  if (type === 'volume') {
    const vo = isObject(m.VolumeOptions) ? m.VolumeOptions : {};
    const driver = isObject(vo.DriverConfig) ? vo.DriverConfig.Name : undefined;
    if (driver !== undefined && driver !== '' && driver !== 'local')
      throw invalidInput(`volume driver ${JSON.stringify(driver)} is not supported (only local)`);
    if (
      isObject(vo.DriverConfig) &&
      isObject(vo.DriverConfig.Options) &&
      Object.keys(vo.DriverConfig.Options).length
    )
      throw invalidInput(
        'volume driver options in --mount are not supported: docker volume create them',
      );
    if (vo.NoCopy === true) throw invalidInput('volume-nocopy is not supported');
    if (vo.Subpath !== undefined && vo.Subpath !== '')
      return {
        type: 'volume',
        source: requireName(source, target),
        destination: target,
        subPath: String(vo.Subpath),
        ...(readOnly && { readOnly }),
      };
    return {
      type: 'volume',
      source: requireName(source, target),
      destination: target,
      ...(readOnly && { readOnly }),
    };
  }
  if (type === 'tmpfs') {
    const to = isObject(m.TmpfsOptions) ? m.TmpfsOptions : {};
    if (to.Mode !== undefined && to.Mode !== 0)
      throw invalidInput('tmpfs-mode is not supported (the tmpfs is mode 0777)');
    const size = to.SizeBytes;
    if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0))
      throw invalidInput('invalid tmpfs-size');
    return {
      type: 'tmpfs',
      destination: target,
      ...(size && { sizeBytes: size as number }),
      ...(readOnly && { readOnly }),
    };
  }
  throw invalidInput(`mount type ${JSON.stringify(type)} is not supported (volume, bind, tmpfs)`);
}

function requireName(source: string, target: string): string {
  if (source === '')
    throw invalidInput(`anonymous volumes are not supported: name the volume mounted at ${target}`);
  return source;
}

/** --tmpfs /p[:size=64m,rw] */
function parseTmpfs(destination: string, opts: unknown): ContainerMount {
  if (typeof opts !== 'string') throw invalidInput(`invalid HostConfig.Tmpfs[${destination}]`);
  let sizeBytes: number | undefined;
  let readOnly = false;
  for (const o of opts.split(',').filter(Boolean)) {
    const [k, v] = o.split('=', 2);
    if (k === 'size' && v !== undefined) sizeBytes = parseSize(v, 'tmpfs size');
    else if (o === 'ro') readOnly = true;
    else if (!['rw', 'nosuid', 'nodev', 'noexec', 'exec'].includes(o))
      throw invalidInput(
        `tmpfs option ${JSON.stringify(o)} of ${destination} is not supported (size, ro, rw)`,
      );
  }
  return {
    type: 'tmpfs',
    destination,
    ...(sizeBytes && { sizeBytes }),
    ...(readOnly && { readOnly }),
  };
}

/** The mounts a create body asks for. */
export function mountsOf(
  body: Record<string, unknown>,
  host: Record<string, unknown>,
): ContainerMount[] {
  if (host.VolumeDriver !== undefined && host.VolumeDriver !== '' && host.VolumeDriver !== 'local')
    throw invalidInput(
      `volume driver ${JSON.stringify(host.VolumeDriver)} is not supported (only local)`,
    );
  if (Array.isArray(host.VolumesFrom) && host.VolumesFrom.length > 0)
    throw invalidInput('--volumes-from is not supported');
  const out: ContainerMount[] = [];
  if (isObject(body.Volumes) && Object.keys(body.Volumes).length > 0) {
    // -v NAME:/p sends Binds; -v /p alone (an anonymous volume) sends only Volumes.
    const bound = new Set(
      (Array.isArray(host.Binds) ? (host.Binds as unknown[]) : []).map(
        (b) => String(b).split(':')[1],
      ),
    );
    const anon = Object.keys(body.Volumes).filter((p) => !bound.has(p));
    if (anon.length > 0)
      throw invalidInput(
        `anonymous volumes are not supported: name the volume (-v NAME:${anon[0]})`,
      );
  }
  if (host.Binds !== undefined && host.Binds !== null) {
    if (!Array.isArray(host.Binds) || !host.Binds.every((b) => typeof b === 'string'))
      throw invalidInput('invalid HostConfig.Binds: want a list of strings');
    out.push(...(host.Binds as string[]).map(parseBind));
  }
  if (host.Mounts !== undefined && host.Mounts !== null) {
    if (!Array.isArray(host.Mounts)) throw invalidInput('invalid HostConfig.Mounts: want a list');
    out.push(...host.Mounts.map(parseMount));
  }
  if (host.Tmpfs !== undefined && host.Tmpfs !== null) {
    if (!isObject(host.Tmpfs)) throw invalidInput('invalid HostConfig.Tmpfs: want an object');
    for (const [p, o] of Object.entries(host.Tmpfs)) out.push(parseTmpfs(p, o));
  }
  return out;
}
