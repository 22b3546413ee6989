// What the guest builder does to the files of Debian's kernel package: reads a module's
// dependencies, strips its signature, and gets the uncompressed kernel out of a bzImage.

const SIG_MAGIC = Buffer.from('~Module signature appended~\n');

/** The module names a .ko depends on (its .modinfo "depends=" string). */
export function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const start = at + key.length;
  const end = ko.indexOf(0, start);
  const list = ko.subarray(start, end < 0 ? undefined : end).toString('latin1');
  return list === '' ? [] : list.split(',').map((m) => m.replace(/-/g, '_'));
}

/**
 * The module without its appended signature. Checking an RSA signature costs a noticeable
 * part of a second per module under TCG; the kernel loads an unsigned module (it only marks
 * itself tainted) unless signatures are enforced, which Debian's kernel does not.
 */
export function stripModuleSignature(ko: Buffer): Buffer {
  if (ko.length < SIG_MAGIC.length + 12) return ko;
  if (!ko.subarray(ko.length - SIG_MAGIC.length).equals(SIG_MAGIC)) return ko;
  // struct module_signature: 12 bytes before the magic; its last 4 are the signature's length.
  const info = ko.length - SIG_MAGIC.length - 12;
  const sigLen = ko.readUInt32BE(info + 8);
  const end = info - sigLen;
  return end > 0 ? ko.subarray(0, end) : ko;
}

/** Orders modules so each comes after those it depends on; unknown dependencies are errors. */
export function dependencyOrder(modules: Map<string, string[]>): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from?: string) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`module dependency cycle at ${name}`);
    const deps = modules.get(name);
    if (!deps) throw new Error(`module ${name} (needed by ${from ?? '?'}) is not in the guest`);
    state.set(name, 'visiting');
    for (const d of deps) visit(d, name);
    state.set(name, 'done');
    out.push(name);
  };
  for (const name of [...modules.keys()].sort()) visit(name);
  return out;
}

export type KernelCompression = 'xz' | 'zstd' | 'gzip';

const MAGICS: [KernelCompression, Buffer][] = [
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['gzip', Buffer.from([0x1f, 0x8b, 0x08])],
];

/**
 * Where the compressed kernel starts inside a bzImage: the earliest compression magic after the
 * setup code. (The setup header's payload_offset would say it exactly; the magic search is what
 * the kernel's own extract-vmlinux does, and works for every bzImage version.)
 */
export function findPayload(bzImage: Buffer): { kind: KernelCompression; offset: number }[] {
  const found: { kind: KernelCompression; offset: number }[] = [];
  for (const [kind, magic] of MAGICS) {
    let at = bzImage.indexOf(magic);
    while (at >= 0 && found.filter((f) => f.kind === kind).length < 4) {
      found.push({ kind, offset: at });
      at = bzImage.indexOf(magic, at + 1);
    }
  }
  return found.sort((a, b) => a.offset - b.offset);
}

/** Whether bytes are an ELF executable (what qemu can boot through the kernel's PVH entry). */
export function isElf(b: Buffer): boolean {
  return b.length > 4 && b[0] === 0x7f && b.toString('latin1', 1, 4) === 'ELF';
}

/**
 * The ELF kernel with each loadable segment's trailing zero bytes left out of its file size
 * (they stay in its memory size, which the loader zero-fills). The kernel's last segment ends
 * in .bss and the boot scratch area, stored as some 20 MiB of zeros in a vmlinux extracted from
 * a bzImage: qemu maps the file and keeps each segment's file bytes resident for as long as the
 * VM runs (to copy them again at a reset), so every pod VM's qemu carried those zeros in its
 * RSS. Only 64-bit little-endian ELF is changed (the x86-64 kernel); anything else as it was.
 * Returns the bytes trimmed in all.
 */
export function trimSegmentZeroTails(elf: Buffer): { elf: Buffer; trimmed: number } {
  // e_ident: class 2 (64-bit), data 1 (little-endian).
  if (!isElf(elf) || elf.length < 64 || elf[4] !== 2 || elf[5] !== 1) return { elf, trimmed: 0 };
  const out = Buffer.from(elf);
  const phoff = Number(out.readBigUInt64LE(0x20));
  const phentsize = out.readUInt16LE(0x36);
  const phnum = out.readUInt16LE(0x38);
  let trimmed = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > out.length || out.readUInt32LE(ph) !== 1) continue; // PT_LOAD only
    const offset = Number(out.readBigUInt64LE(ph + 8));
    const filesz = Number(out.readBigUInt64LE(ph + 32));
    if (offset + filesz > out.length) continue;
    let end = offset + filesz;
    while (end > offset && out[end - 1] === 0) end--;
    // Page-aligned (qemu's copy works in whole pages of the mapping anyway).
    const keep = Math.min(filesz, Math.ceil((end - offset) / 4096) * 4096);
    if (keep < filesz) {
      out.writeBigUInt64LE(BigInt(keep), ph + 32);
      trimmed += filesz - keep;
    }
  }
  return { elf: trimmed > 0 ? out : elf, trimmed };
}
