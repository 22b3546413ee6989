// The portlayer routes the project uses, as data: method, path template and VIC's operationId
// (reference/vic-portlayer-swagger.json). The server's router registers these and the client
// builds its requests from them, so neither spells a route of its own, and the contract test
// holds the table to VIC's swagger.

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  method: Method;
  /** VIC's path template: `{name}` for each path parameter, in order. */
  path: string;
  /** The swagger operation's id (ours for an extension). */
  operationId: string;
  /** Ours, not VIC's: the contract test holds that VIC has no such route. */
  extension?: true;
}

const route = (method: Method, path: string, operationId: string): Route => ({
  method,
  path,
  operationId,
});

const extensionRoute = (method: Method, path: string, operationId: string): Route => ({
  ...route(method, path, operationId),
  extension: true,
});

export const ROUTES = {
  ping: route('GET', '/_ping', 'Ping'),
  vchInfo: route('GET', '/vch/info', 'GetVCHInfo'),
  vchStats: extensionRoute('GET', '/vch/stats', 'GetVCHStats'),

  // Containers (a portlayer container is a pod) and their handles.
  create: route('POST', '/containers', 'Create'),
  containerList: route('GET', '/containers/list', 'GetContainerList'),
  containerInfo: route('GET', '/containers/info/{id}', 'GetContainerInfo'),
  containerHandle: route('GET', '/containers/{id}', 'Get'),
  commit: route('PUT', '/containers/{handle}', 'Commit'),
  stateChange: route('PUT', '/containers/{handle}/state', 'StateChange'),
  getState: route('GET', '/containers/{handle}/state', 'GetState'),
  containerRemove: route('DELETE', '/containers/{id}', 'ContainerRemove'),
  containerSignal: route('POST', '/containers/{id}/signal', 'ContainerSignal'),
  containerWait: route('GET', '/containers/{id}/wait', 'ContainerWait'),
  containerLogs: route('GET', '/containers/{id}/logs', 'GetContainerLogs'),
  containerStats: route('GET', '/containers/{id}/stats', 'GetContainerStats'),
  // Ours (VIC has no port-forward): an HTTP upgrade (`Upgrade: tcp`) whose connection then
  // carries one TCP connection to {port} on the container's (pod's) own loopback, made inside
  // it; answered 101 once connected, else with the error model (503 when nothing listens).
  portForward: extensionRoute('POST', '/containers/{id}/forward/{port}', 'PortForward'),

  // Joins: each takes a handle and answers a new one.
  imageJoin: route('POST', '/storage/{store_name}/info/{id}', 'ImageJoin'),
  getImage: route('GET', '/storage/{store_name}/info/{id}', 'GetImage'),
  taskJoin: route('POST', '/tasks', 'Join'),
  taskBind: route('POST', '/tasks/binding', 'Bind'),
  taskRemove: route('DELETE', '/tasks', 'Remove'),
  taskInspect: route('GET', '/tasks', 'Inspect'),
  taskWait: route('GET', '/tasks/wait', 'Wait'),
  loggingJoin: route('POST', '/logging', 'LoggingJoin'),
  interactionJoin: route('POST', '/interaction', 'InteractionJoin'),
  // An attached exec's streams (VIC's attach server, per exec task id).
  interactionStdin: route('POST', '/interaction/{id}/stdin', 'ContainerSetStdin'),
  interactionCloseStdin: route('DELETE', '/interaction/{id}/stdin', 'ContainerCloseStdin'),
  interactionStdout: route('GET', '/interaction/{id}/stdout', 'ContainerGetStdout'),
  interactionStderr: route('GET', '/interaction/{id}/stderr', 'ContainerGetStderr'),
  interactionResize: route('POST', '/interaction/{id}/resize', 'ContainerResize'),

  // Scopes (networks).
  listScopes: route('GET', '/scopes', 'ListAll'),
  addContainer: route('POST', '/scopes/{scope}/containers', 'AddContainer'),
  containerEndpoints: route('GET', '/scopes/containers/{handleOrId}', 'GetContainerEndpoints'),
  bindContainer: route('POST', '/scopes/containers/{handle}/binding', 'BindContainer'),
  unbindContainer: route('DELETE', '/scopes/containers/{handle}/binding', 'UnbindContainer'),
  listScope: route('GET', '/scopes/{idName}', 'List'),

  // Volumes (VIC's storage model): a volume joins a handle once per mount into a task.
  createVolume: route('POST', '/storage/volumes', 'CreateVolume'),
  listVolumes: route('GET', '/storage/volumes', 'ListVolumes'),
  getVolume: route('GET', '/storage/volumes/{name}', 'GetVolume'),
  removeVolume: route('DELETE', '/storage/volumes/{name}', 'RemoveVolume'),
  volumeJoin: route('POST', '/storage/volumes/{name}', 'VolumeJoin'),
  writeVolumeFiles: extensionRoute('PUT', '/storage/volumes/{name}/files', 'WriteVolumeFiles'),
} as const satisfies Record<string, Route>;

/** The path of a request: the template with each parameter, in order, URI-encoded. */
export function routePath(r: Route, ...params: string[]): string {
  let i = 0;
  const path = r.path.replace(/\{\w+\}/g, () => {
    if (i >= params.length) throw new Error(`${r.operationId}: too few path parameters`);
    return encodeURIComponent(params[i++]);
  });
  if (i !== params.length) throw new Error(`${r.operationId}: too many path parameters`);
  return path;
}
