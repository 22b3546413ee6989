// Docker's --user in a container: "", "uid", "uid:gid", "name", "name:group", resolved in the
// rootfs's /etc/passwd and /etc/group, as the OCI process.user runc needs.
import { invalidInput } from './errors.js';
import { readInRoot } from './in-root.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** For HOME when the environment sets none. */
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const isId = (s: string) => /^\d+$/.test(s) && Number(s) <= 0xffffffff;

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !isId(f[2]) || !isId(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !isId(f[2])) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: f[3].split(',').filter(Boolean) });
  }
  return out;
}

/** Resolves `user` against passwd and group text (pure: the tests give the files' text). */
export function resolveUserIn(
  user: string,
  passwdText: string | undefined,
  groupText: string | undefined,
  extraGroups: string[] = [],
): ResolvedUser {
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  const [u, g, ...rest] = user.split(':');
  if (rest.length > 0) throw invalidInput(`invalid user ${JSON.stringify(user)}`);
  let uid = 0;
  let gid = 0;
  let home = '/';
  let name: string | undefined = 'root';
  if (u !== '' && u !== undefined) {
    const byName = passwd.find((p) => p.name === u);
    const entry = byName ?? (isId(u) ? passwd.find((p) => p.uid === Number(u)) : undefined);
    if (entry) {
      ({ uid, gid, home, name } = entry);
      if (!byName) uid = Number(u); // a numeric uid stays what was asked
    } else if (isId(u)) {
      uid = Number(u);
      gid = 0; // Docker: a uid with no passwd entry runs with group 0
      name = undefined;
    } else {
      throw invalidInput(
        `unable to find user ${u}: no matching entries in the image's /etc/passwd`,
      );
    }
  } else {
    const root = passwd.find((p) => p.uid === 0);
    if (root) home = root.home;
  }
  if (g !== undefined && g !== '') {
    const grp = groups.find((x) => x.name === g);
    if (grp) gid = grp.gid;
    else if (isId(g)) gid = Number(g);
    else
      throw invalidInput(
        `unable to find group ${g}: no matching entries in the image's /etc/group`,
      );
  }
  // Supplementary groups: those listing the user by name, as initgroups would (only when the
  // group was not given explicitly, as Docker does).
  const additionalGids =
    g === undefined && name !== undefined
      ? [
          ...new Set(
            groups.filter((x) => x.members.includes(name!) && x.gid !== gid).map((x) => x.gid),
          ),
        ]
      : [];
  // Docker's --group-add, Kubernetes' supplementalGroups: on top, by name or number.
  for (const x of extraGroups) {
    const grp = groups.find((e) => e.name === x);
    const id = grp ? grp.gid : isId(x) ? Number(x) : undefined;
    if (id === undefined)
      throw invalidInput(
        `unable to find group ${x}: no matching entries in the image's /etc/group`,
      );
    if (!additionalGids.includes(id)) additionalGids.push(id);
  }
  return { uid, gid, additionalGids, home };
}

/** Resolves `user` (and groups to add) in the rootfs's /etc/passwd and /etc/group. */
export async function resolveUser(
  rootfs: string,
  user: string,
  extraGroups: string[] = [],
): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([
    readInRoot(rootfs, '/etc/passwd'),
    readInRoot(rootfs, '/etc/group'),
  ]);
  return resolveUserIn(user, passwd, group, extraGroups);
}
