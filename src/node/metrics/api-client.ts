// API clients whose every request to the apiserver is timed and counted (rest_client_* in the
// node's metrics, as client-go's): the generated clients' HTTP library, wrapped.
import * as k8s from '@kubernetes/client-node';

export type RequestObserver = (
  method: string,
  host: string,
  code: number | undefined,
  seconds: number,
) => void;

/**
 * The generated clients' HTTP library, wrapped so that `observe` hears of every request once it
 * is answered (kube-clients.ts builds the node's clients over it).
 */
export function observingHttpLibrary(observe: RequestObserver): k8s.HttpLibrary {
  // The library a configuration gets by default: the one to wrap.
  const inner = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration('https://unused', {}),
  }).httpApi;
  return {
    send(request) {
      const began = performance.now();
      const method = request.getHttpMethod().toString();
      let host = '';
      try {
        host = new URL(request.getUrl()).host;
      } catch {
        // An unparsable URL fails in the library itself; the host stays unknown.
      }
      const done = (code: number | undefined) =>
        observe(method, host, code, (performance.now() - began) / 1000);
      return new k8s.Observable(
        inner
          .send(request)
          .toPromise()
          .then(
            (response) => {
              done(response.httpStatusCode);
              return response;
            },
            (err: unknown) => {
              done(undefined);
              throw err;
            },
          ),
      );
    },
  };
}
