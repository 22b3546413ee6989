// The kubelet's rules for what a volume's computed content may hold (its AtomicWriter's
// validatePath, and the API's rule for modes): a file path is relative, has no `..` element and
// does not start with `..` (the writer's own names), no element over 255 bytes, the whole at most
// 4096; a mode is 0..0777. Input that breaks them is refused with one clear reason and nothing is
// written, whether it comes from the pod (items.path, mode: refused when the pod is validated)
// or from an object it references (a ConfigMap key: the container waits until it is fixed).

const MAX_PATH = 4096;
const MAX_ELEMENT = 255;

/** Why `path` cannot be a file of a volume, or undefined when it can. */
export function badFilePath(path: string): string | undefined {
  if (path === '') return 'invalid path: must not be empty';
  if (path.startsWith('/')) return `invalid path: must be relative path: ${path}`;
  if (Buffer.byteLength(path) > MAX_PATH)
    return `invalid path: must be less than or equal to ${MAX_PATH} characters`;
  const elements = path.split('/');
  if (elements.some((e) => Buffer.byteLength(e) > MAX_ELEMENT))
    return `invalid path: must not contain path elements longer than ${MAX_ELEMENT} characters`;
  if (elements.includes('..')) return `invalid path: must not contain '..': ${path}`;
  if (path.startsWith('..')) return `invalid path: must not start with '..': ${path}`;
  return undefined;
}

/** Why `mode` cannot be a file's mode, or undefined when it can. */
export function badFileMode(mode: number): string | undefined {
  return Number.isInteger(mode) && mode >= 0 && mode <= 0o777
    ? undefined
    : `invalid mode ${mode}: must be a number between 0 and 0777 (octal), both inclusive`;
}

/**
 * Why a mount's subPath cannot be used, or undefined when it can: relative, no `..` element
 * (the kubelet's rule; the VCH resolves it inside the volume without following links out).
 */
export function badSubPath(subPath: string): string | undefined {
  if (subPath.startsWith('/')) return `subPath ${JSON.stringify(subPath)} must be a relative path`;
  if (subPath.split('/').includes('..'))
    return `subPath ${JSON.stringify(subPath)} must not contain '..'`;
  return undefined;
}
