// How the VCH finds a container or a pod from what a client names it by, as Docker looks them
// up: an id, a unique id prefix or a name (with or without a leading '/'). One place, for every
// service.
import type { ContainerRow, PodRow, VchDb } from '../db.js';
import { conflict, invalidInput, notFound } from '../errors.js';
import { isId } from '../names.js';

/** A container by id, unique id prefix or name; NotFound, or InvalidInput if ambiguous. */
export function findContainer(db: VchDb, ref: string): ContainerRow {
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  if (isId(ref)) {
    const r = db.container(ref);
    if (r) return r;
  }
  const byName = db.containerByName(name);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const found = db.containersByPrefix(ref);
    if (found.length === 1) return found[0];
    if (found.length > 1)
      throw invalidInput(`multiple containers found with provided prefix: ${ref}`);
  }
  throw notFound(`No such container: ${ref}`);
}

/** A pod by id or name; NotFound otherwise. */
export function findPod(db: VchDb, ref: string): PodRow {
  const p = (isId(ref) && db.pod(ref)) || db.podByName(ref);
  if (!p) throw notFound(`No such pod: ${ref}`);
  return p;
}

/** Conflict, in Docker's words, if a container already has `name`. */
export function checkNameFree(db: VchDb, name: string): void {
  const other = db.containerByName(name);
  if (other)
    throw conflict(
      `the container name "/${name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
}
