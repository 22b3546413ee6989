// API clients whose every request to the apiserver is timed and counted (rest_client_* in the
// node's metrics, as client-go's): the generated clients' HTTP library, wrapped.
import * as k8s from '@kubernetes/client-node';

export type RequestObserver = (
  method: string,
  host: string,
  code: number | undefined,
  seconds: number,
) => void;

/** A client of `api` over `config` whose requests `observe` hears of once they are answered. */
export function observedApiClient<T extends k8s.ApiType>(
  config: k8s.KubeConfig,
  api: new (configuration: k8s.Configuration) => T,
  observe: RequestObserver,
): T {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster!');
  const plain = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: config },
  });
  const inner = plain.httpApi;
  const httpApi: k8s.HttpLibrary = {
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
  return new api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: config },
      httpApi,
    }),
  );
}
