// The initramfs archive format the kernel unpacks: cpio "newc" (SVR4 without checksums). Entries
// are written from memory; device nodes need no privileges here, as the kernel creates them.

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(
  ino: number,
  mode: number,
  nlink: number,
  size: number,
  name: string,
  rdev = [0, 0],
): Buffer {
  const nameBytes = Buffer.from(name + '\0');
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const head = Buffer.from('070701' + fields.map(hex8).join(''), 'ascii');
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length))]);
}

/** The archive's bytes: entries in order (parents before children), then the trailer. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    if (name === '' || name.split('/').includes('..'))
      throw new Error(`cpio: bad path ${JSON.stringify(e.path)}`);
    let data: Uint8Array = Buffer.alloc(0);
    let mode: number;
    let rdev = [0, 0];
    switch (e.type) {
      case 'dir':
        mode = S_IFDIR | (e.mode ?? 0o755);
        break;
      case 'file':
        mode = S_IFREG | (e.mode ?? 0o644);
        data = e.data;
        break;
      case 'symlink':
        mode = S_IFLNK | 0o777;
        data = Buffer.from(e.target);
        break;
      case 'char':
        mode = S_IFCHR | (e.mode ?? 0o600);
        rdev = [e.major, e.minor];
        break;
    }
    parts.push(header(ino++, mode, e.type === 'dir' ? 2 : 1, data.length, name, rdev));
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    parts.push(Buffer.alloc(pad4(data.length)));
  }
  parts.push(header(0, 0, 1, 0, 'TRAILER!!!'));
  return Buffer.concat(parts);
}
