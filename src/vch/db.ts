// The VCH's database: pods, containers and image references in SQLite (better-sqlite3), in
// WAL mode so that a crash at any point leaves the last committed state. The schema's version
// is SQLite's user_version: an older database is migrated forward in one transaction on open
// (MIGRATIONS), a newer one than this code knows is refused.
import Database from 'better-sqlite3';
import type { ImageRecord } from '../image/index.js';
import { errorKind, unavailable } from './errors.js';
import type { PublishedPort, SandboxNames } from '../runtime/runtime.js';
import type { ContainerConfig, ContainerStatus } from './types.js';

export const SCHEMA_VERSION = 4;

/** Volumes (volumes/volume-db.ts reads and writes them). */
const VOLUMES_SCHEMA = `
CREATE TABLE volumes (
  name TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  owner TEXT
);
CREATE INDEX volumes_owner ON volumes(owner);
`;

const SCHEMA = `
CREATE TABLE pods (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  hostname TEXT NOT NULL,
  labels TEXT NOT NULL,
  implicit INTEGER NOT NULL,
  spec TEXT NOT NULL,
  created TEXT NOT NULL,
  runtime TEXT
);
CREATE TABLE containers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  name_in_pod TEXT NOT NULL,
  pod_id TEXT NOT NULL REFERENCES pods(id),
  config TEXT NOT NULL,
  image_reference TEXT NOT NULL,
  image_id TEXT NOT NULL,
  process TEXT NOT NULL,
  created TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  exit_code INTEGER,
  error TEXT,
  restart_count INTEGER NOT NULL DEFAULT 0,
  termination_message TEXT
);
CREATE INDEX containers_pod ON containers(pod_id);
CREATE TABLE images (
  reference TEXT PRIMARY KEY,
  image_id TEXT NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX images_id ON images(image_id);
${VOLUMES_SCHEMA}
`;

/**
 * Steps from one schema version to the next: MIGRATIONS[v] takes a version-v database to v+1.
 * A fresh database gets SCHEMA at SCHEMA_VERSION directly.
 */
const MIGRATIONS: Record<number, string> = {
  // 1 → 2: the backend each pod runs on (runc or vm); pods from before ran on runc.
  1: "ALTER TABLE pods ADD COLUMN runtime TEXT; UPDATE pods SET runtime = 'runc';",
  // 2 → 3: what a container's last run left at its terminationMessagePath.
  2: 'ALTER TABLE containers ADD COLUMN termination_message TEXT;',
  // 3 → 4: volumes.
  3: VOLUMES_SCHEMA,
};

/** The merged process of a container, kept as the container was created. */
export interface ProcessRecord {
  path: string;
  args: string[];
  env: string[];
  workingDir: string;
  user: string;
  stopSignal: string;
  stopTimeout: number;
}

export interface PodSpecRecord {
  shareProcessNamespace?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  sysctls?: Record<string, string>;
  /** Ports published to the pod (Docker's -p). */
  ports?: PublishedPort[];
  names?: SandboxNames;
  memoryLimitBytes?: number;
  cpuMillis?: number;
}

export interface PodRow {
  id: string;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  implicit: boolean;
  spec: PodSpecRecord;
  created: string;
  /** The backend the pod's sandbox runs on. */
  runtime: 'runc' | 'vm';
}

export interface ContainerRow {
  id: string;
  name: string;
  nameInPod: string;
  podId: string;
  config: ContainerConfig;
  imageReference: string;
  imageId: string;
  process: ProcessRecord;
  created: string;
  status: ContainerStatus;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  error?: string;
  restartCount: number;
  terminationMessage?: string;
}

/** The parts of a container's state that change as it runs. */
export interface ContainerStateUpdate {
  status: ContainerStatus;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  error?: string;
  restartCount?: number;
  terminationMessage?: string;
}

/** A container row's state as it stands, to write back with a change. */
export function stateOf(r: ContainerRow): ContainerStateUpdate {
  return {
    status: r.status,
    ...(r.startedAt !== undefined && { startedAt: r.startedAt }),
    ...(r.finishedAt !== undefined && { finishedAt: r.finishedAt }),
    ...(r.exitCode !== undefined && { exitCode: r.exitCode }),
    ...(r.error !== undefined && { error: r.error }),
    ...(r.terminationMessage !== undefined && { terminationMessage: r.terminationMessage }),
  };
}

interface RawPod {
  id: string;
  name: string;
  hostname: string;
  labels: string;
  implicit: number;
  spec: string;
  created: string;
  runtime: string | null;
}

interface RawContainer {
  id: string;
  name: string;
  name_in_pod: string;
  pod_id: string;
  config: string;
  image_reference: string;
  image_id: string;
  process: string;
  created: string;
  status: ContainerStatus;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  restart_count: number;
  termination_message: string | null;
}

/** A JSON path to one key of an object (keys such as `vic.portlayer.id` quoted). */
function labelPath(base: string, key: string): string {
  return `${base}.${JSON.stringify(key)}`;
}

function podFromRaw(r: RawPod): PodRow {
  return {
    id: r.id,
    name: r.name,
    hostname: r.hostname,
    labels: JSON.parse(r.labels) as Record<string, string>,
    implicit: r.implicit !== 0,
    spec: JSON.parse(r.spec) as PodSpecRecord,
    created: r.created,
    runtime: r.runtime === 'vm' ? 'vm' : 'runc',
  };
}

function containerFromRaw(r: RawContainer): ContainerRow {
  return {
    id: r.id,
    name: r.name,
    nameInPod: r.name_in_pod,
    podId: r.pod_id,
    config: JSON.parse(r.config) as ContainerConfig,
    imageReference: r.image_reference,
    imageId: r.image_id,
    process: JSON.parse(r.process) as ProcessRecord,
    created: r.created,
    status: r.status,
    ...(r.started_at !== null && { startedAt: r.started_at }),
    ...(r.finished_at !== null && { finishedAt: r.finished_at }),
    ...(r.exit_code !== null && { exitCode: r.exit_code }),
    ...(r.error !== null && { error: r.error }),
    ...(r.termination_message !== null && { terminationMessage: r.termination_message }),
    restartCount: r.restart_count,
  };
}

export class VchDb {
  readonly #db: Database.Database;
  readonly #stmt: ReturnType<VchDb['prepare']>;

  constructor(readonly file: string) {
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0) {
        const fresh = db;
        fresh.transaction(() => {
          fresh.exec(SCHEMA);
          fresh.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      } else if (version < SCHEMA_VERSION) {
        const old = db;
        old.transaction(() => {
          for (let v = version; v < SCHEMA_VERSION; v++) old.exec(MIGRATIONS[v]);
          old.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      } else if (version !== SCHEMA_VERSION) {
        throw unavailable(
          `the VCH database ${file} has schema version ${version}; this vic-kubelet knows ${SCHEMA_VERSION}`,
        );
      }
      this.#db = db;
      this.#stmt = this.prepare();
    } catch (e) {
      db?.close();
      if (errorKind(e)) throw e;
      throw unavailable(`cannot open the VCH database ${file}: ${(e as Error).message}`);
    }
  }

  private prepare() {
    const db = this.#db;
    return {
      insertPod: db.prepare(
        'INSERT INTO pods (id, name, hostname, labels, implicit, spec, created, runtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      deletePod: db.prepare('DELETE FROM pods WHERE id = ?'),
      pod: db.prepare('SELECT * FROM pods WHERE id = ?'),
      podByName: db.prepare('SELECT * FROM pods WHERE name = ?'),
      pods: db.prepare('SELECT * FROM pods ORDER BY created'),
      // By one label (a JSON path into labels/config), in SQLite: no row is parsed in JS.
      podByLabel: db.prepare(
        'SELECT id FROM pods WHERE json_extract(labels, ?) = ? ORDER BY created LIMIT 1',
      ),
      containerByLabel: db.prepare(
        'SELECT id FROM containers WHERE json_extract(config, ?) = ? ORDER BY created DESC LIMIT 1',
      ),
      insertContainer: db.prepare(
        `INSERT INTO containers (id, name, name_in_pod, pod_id, config, image_reference, image_id,
           process, created, status, restart_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
      ),
      updateState: db.prepare(
        `UPDATE containers SET status = ?, started_at = ?, finished_at = ?, exit_code = ?,
           error = ?, restart_count = ?, termination_message = ? WHERE id = ?`,
      ),
      deleteContainer: db.prepare('DELETE FROM containers WHERE id = ?'),
      container: db.prepare('SELECT * FROM containers WHERE id = ?'),
      containerByName: db.prepare('SELECT * FROM containers WHERE name = ?'),
      containersByPrefix: db.prepare(
        "SELECT * FROM containers WHERE id >= ? AND id < ? || 'g' ORDER BY id LIMIT 2",
      ),
      containers: db.prepare('SELECT * FROM containers ORDER BY created DESC'),
      containersOfPod: db.prepare('SELECT * FROM containers WHERE pod_id = ? ORDER BY created'),
      containersOfImage: db.prepare('SELECT id FROM containers WHERE image_id = ? LIMIT 1'),
      putImage: db.prepare(
        'INSERT OR REPLACE INTO images (reference, image_id, record) VALUES (?, ?, ?)',
      ),
      deleteImageRef: db.prepare('DELETE FROM images WHERE reference = ?'),
      imageRef: db.prepare('SELECT * FROM images WHERE reference = ?'),
      imagesById: db.prepare('SELECT * FROM images WHERE image_id = ?'),
      images: db.prepare('SELECT * FROM images ORDER BY reference'),
    };
  }

  /** A prepared statement over the database, for a service that keeps a table of its own. */
  statement(sql: string): Database.Statement {
    return this.#db.prepare(sql);
  }

  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  insertPod(p: PodRow): void {
    this.#stmt.insertPod.run(
      p.id,
      p.name,
      p.hostname,
      JSON.stringify(p.labels),
      p.implicit ? 1 : 0,
      JSON.stringify(p.spec),
      p.created,
      p.runtime,
    );
  }

  deletePod(id: string): void {
    this.#stmt.deletePod.run(id);
  }

  pod(id: string): PodRow | undefined {
    const r = this.#stmt.pod.get(id) as RawPod | undefined;
    return r && podFromRaw(r);
  }

  podByName(name: string): PodRow | undefined {
    const r = this.#stmt.podByName.get(name) as RawPod | undefined;
    return r && podFromRaw(r);
  }

  pods(): PodRow[] {
    return (this.#stmt.pods.all() as RawPod[]).map(podFromRaw);
  }

  insertContainer(c: ContainerRow): void {
    this.#stmt.insertContainer.run(
      c.id,
      c.name,
      c.nameInPod,
      c.podId,
      JSON.stringify(c.config),
      c.imageReference,
      c.imageId,
      JSON.stringify(c.process),
      c.created,
      c.status,
    );
  }

  updateState(id: string, s: ContainerStateUpdate, restartCount: number): void {
    this.#stmt.updateState.run(
      s.status,
      s.startedAt ?? null,
      s.finishedAt ?? null,
      s.exitCode ?? null,
      s.error ?? null,
      s.restartCount ?? restartCount,
      s.terminationMessage ?? null,
      id,
    );
  }

  deleteContainer(id: string): void {
    this.#stmt.deleteContainer.run(id);
  }

  container(id: string): ContainerRow | undefined {
    const r = this.#stmt.container.get(id) as RawContainer | undefined;
    return r && containerFromRaw(r);
  }

  containerByName(name: string): ContainerRow | undefined {
    const r = this.#stmt.containerByName.get(name) as RawContainer | undefined;
    return r && containerFromRaw(r);
  }

  /** Up to two containers whose id starts with `prefix` (lowercase hex): two means ambiguous. */
  containersByPrefix(prefix: string): ContainerRow[] {
    return (this.#stmt.containersByPrefix.all(prefix, prefix) as RawContainer[])
      .filter((r) => r.id.startsWith(prefix))
      .map(containerFromRaw);
  }

  /** Newest first, as `docker ps`. */
  containers(): ContainerRow[] {
    return (this.#stmt.containers.all() as RawContainer[]).map(containerFromRaw);
  }

  /** The oldest pod with label `key` = `value`. */
  podIdByLabel(key: string, value: string): string | undefined {
    const row = this.#stmt.podByLabel.get(labelPath('$', key), value) as { id: string } | undefined;
    return row?.id;
  }

  /** The newest container with label `key` = `value`. */
  containerIdByLabel(key: string, value: string): string | undefined {
    const path = labelPath('$.labels', key);
    const row = this.#stmt.containerByLabel.get(path, value) as { id: string } | undefined;
    return row?.id;
  }

  containersOfPod(podId: string): ContainerRow[] {
    return (this.#stmt.containersOfPod.all(podId) as RawContainer[]).map(containerFromRaw);
  }

  imageInUse(imageId: string): string | undefined {
    return (this.#stmt.containersOfImage.get(imageId) as { id: string } | undefined)?.id;
  }

  putImage(record: ImageRecord): void {
    this.#stmt.putImage.run(record.reference, record.configDigest, JSON.stringify(record));
  }

  deleteImageReference(reference: string): void {
    this.#stmt.deleteImageRef.run(reference);
  }

  imageByReference(reference: string): ImageRecord | undefined {
    const r = this.#stmt.imageRef.get(reference) as { record: string } | undefined;
    return r && (JSON.parse(r.record) as ImageRecord);
  }

  imagesById(imageId: string): ImageRecord[] {
    return (this.#stmt.imagesById.all(imageId) as { record: string }[]).map(
      (r) => JSON.parse(r.record) as ImageRecord,
    );
  }

  images(): ImageRecord[] {
    return (this.#stmt.images.all() as { record: string }[]).map(
      (r) => JSON.parse(r.record) as ImageRecord,
    );
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
