// A VCH's address, as `vic-kubelet node --vch` takes it: one listener serves the persona
// (Docker Engine API) and, under /portlayer, the portlayer (see embedded.ts). Nothing here
// loads the VCH itself, so a node driving a remote VCH does not either.
import { invalidInput } from './errors.js';

/** Where the portlayer is on a VCH's listener. */
export const PORTLAYER_PATH = '/portlayer';

/**
 * The persona and portlayer endpoints of a VCH's address: `unix:///path.sock` or
 * `http://HOST:PORT` (no path: the portlayer's place on the listener is fixed).
 */
export function vchEndpoints(url: string): { persona: string; portlayer: string } {
  const bad = () =>
    invalidInput(`--vch ${JSON.stringify(url)}: want unix:///PATH or http://HOST:PORT`);
  if (url.startsWith('unix://')) {
    const path = url.slice('unix://'.length);
    if (!path.startsWith('/') || path.includes('#')) throw bad();
    return { persona: url, portlayer: `${url}#${PORTLAYER_PATH}` };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad();
  }
  if (u.protocol !== 'http:' || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash)
    throw bad();
  const base = `http://${u.host}`;
  return { persona: base, portlayer: `${base}${PORTLAYER_PATH}` };
}
