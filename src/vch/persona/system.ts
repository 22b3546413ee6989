// System routes: /_ping (where the docker CLI learns our API version), /version and /info.
import { arch } from 'node:os';
import type { Vch } from '../vch.js';
import { sendJson } from './http.js';
import { MAX_API_VERSION, MIN_API_VERSION, type Router } from './router.js';

/** Docker names x64 as Go does. */
function goArch(): string {
  const a = arch();
  return a === 'x64' ? 'amd64' : a;
}

export function addSystemRoutes(
  router: Router,
  vch: Vch,
  insecureRegistries: readonly string[],
): void {
  router.add('GET', '/_ping', async ({ req, res }) => {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Content-Length': 2,
    });
    res.end(req.method === 'HEAD' ? undefined : 'OK');
  });

  router.add('GET', '/version', async ({ res }) => {
    const info = await vch.info();
    const engine = {
      Version: info.version,
      ApiVersion: MAX_API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: info.kernelVersion,
      BuildTime: '',
    };
    sendJson(res, 200, {
      Platform: { Name: 'vic-kubelet Virtual Container Host' },
      // Details is a map of strings in Docker's schema.
      Components: [
        {
          Name: 'Engine',
          Version: info.version,
          Details: { ...engine, Experimental: 'false' },
        },
      ],
      ...engine,
    });
  });

  router.add('GET', '/info', async ({ res }) => {
    const info = await vch.info();
    const cap = info.capacity;
    sendJson(res, 200, {
      ID: '',
      Containers: info.containers.total,
      ContainersRunning: info.containers.running,
      ContainersPaused: 0,
      ContainersStopped: info.containers.stopped + info.containers.created,
      Images: info.images,
      Driver: 'overlay',
      // `docker info` prints these pairs: the default backend and the pod VM boot metric.
      DriverStatus: [
        ['Runtime', info.runtime],
        ...(info.vmBoots
          ? [
              ['VM boots', String(info.vmBoots.count)],
              ...(info.vmBoots.lastMs !== undefined
                ? [['VM boot last ms', String(info.vmBoots.lastMs)]]
                : []),
              ...(info.vmBoots.meanMs !== undefined
                ? [['VM boot mean ms', String(info.vmBoots.meanMs)]]
                : []),
              ['VM boot max ms', String(info.vmBoots.maxMs)],
              ...(info.vmBoots.accel ? [['VM accelerator', info.vmBoots.accel]] : []),
            ]
          : []),
      ],
      Plugins: { Volume: [], Network: [], Authorization: null, Log: ['vic-iolog'] },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      OomKillDisable: false,
      IPv4Forwarding: false,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'vic-iolog',
      CgroupDriver: 'cgroupfs',
      NEventsListener: 0,
      KernelVersion: info.kernelVersion,
      OperatingSystem: 'vic-kubelet Virtual Container Host',
      OSVersion: '',
      OSType: 'linux',
      Architecture: arch() === 'x64' ? 'x86_64' : arch(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        InsecureRegistryCIDRs: ['127.0.0.0/8', '::1/128'],
        IndexConfigs: Object.fromEntries(
          insecureRegistries.map((r) => [
            r,
            { Name: r, Mirrors: [], Secure: false, Official: false },
          ]),
        ),
        Mirrors: [],
      },
      NCPU: cap.cpus,
      MemTotal: cap.memoryBytes,
      DockerRootDir: info.stateDir,
      Name: info.name,
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: info.version,
      // Both backends are on offer: `docker run --runtime vm` (or the label) picks one per pod.
      Runtimes: { runc: { path: 'runc' }, vm: { path: 'qemu-system-x86_64' } },
      DefaultRuntime: info.runtime,
      Swarm: {
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      SecurityOptions: [],
      Warnings: [],
    });
  });
}
