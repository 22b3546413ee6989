// What a node runs beside the kubelet for Services, started the way a cluster runs them, inside
// the test's network namespace (netns-stack.ts): kube-proxy in iptables mode, which turns every
// Service's ClusterIP into DNAT rules to its endpoints in the namespace's nat table, and CoreDNS,
// which answers the cluster domain from the apiserver (its kubernetes plugin) and is published
// as kube-system/kube-dns at the ClusterIP the node hands pods as --cluster-dns. Both are built
// from the Go module proxy by test/services/build.sh (kube-proxy of the control plane's version).
//
// A pod reaching a Service whose endpoint sits on the same bridge: the request is routed (the
// ClusterIP is off the bridge, so it goes to the gateway) and DNATed, but the reply, pod to pod
// on one bridge, is switched, not routed. It is un-DNATed only if bridged frames pass through
// iptables (br_netfilter's net.bridge.bridge-nf-call-iptables, per namespace; kube-proxy warns
// when it is off), so it is set in the namespace; a pod that reaches itself through its Service
// goes back out of the bridge port it came in on (the VCH's bridge runs CNI's hairpinMode) and
// kube-proxy masquerades that case (KUBE-SEP's `-s <endpoint> -j KUBE-MARK-MASQ`).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_BRIDGE, type NetnsStack, spawnIn, stopChild } from './netns-stack.js';
import { until, userKubeconfig } from './node-harness.js';

const buildScript = fileURLToPath(new URL('../services/build.sh', import.meta.url));

/** Builds (or finds cached) kube-proxy or CoreDNS; the binary's path. */
export function servicesTool(tool: 'kube-proxy' | 'coredns'): string {
  const dir = execFileSync('bash', [buildScript, tool], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return join(dir, tool);
}

export interface ClusterServices {
  /** What kube-proxy and CoreDNS printed so far. */
  output(): string;
  /** Stops both and removes kube-proxy's rules from the namespace. */
  stop(): Promise<void>;
}

const COREDNS_USER = 'system:coredns';

/** What CoreDNS's kubernetes plugin reads (its release manifests' ClusterRole). */
const corednsRbac = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: COREDNS_USER },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: COREDNS_USER },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: COREDNS_USER },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: COREDNS_USER }],
    },
  ],
};

/**
 * kube-dns without a selector (CoreDNS is no pod here): the Service at `dnsIp` and an
 * EndpointSlice of our own naming CoreDNS's address, as the EndpointSlice controller would.
 */
function kubeDns(dnsIp: string, address: string) {
  const ports = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ];
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
        spec: { clusterIP: dnsIp, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: 'kube-dns-coredns',
          namespace: 'kube-system',
          labels: {
            'kubernetes.io/service-name': 'kube-dns',
            'endpointslice.kubernetes.io/managed-by': 'vic-kubelet-test',
          },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: [address], conditions: { ready: true } }],
        ports,
      },
    ],
  };
}

export async function startClusterServices(
  stack: NetnsStack,
  o: {
    work: string;
    /** The VCH's --bridge-network: kube-proxy's --cluster-cidr (traffic from elsewhere is masqueraded). */
    clusterCidr: string;
    /** The control plane's --service-cluster-ip-range. */
    serviceCidr: string;
    /** kube-dns's ClusterIP: the node's --cluster-dns. */
    dnsIp: string;
    /** Where CoreDNS listens: an address of the namespace's own. */
    dnsAddress: string;
    clusterDomain: string;
  },
): Promise<ClusterServices> {
  const kubeProxy = servicesTool('kube-proxy');
  const coredns = servicesTool('coredns');
  const { netns, cluster } = stack;
  const dir = join(o.work, 'services');
  mkdirSync(dir, { recursive: true });
  const apply = async (name: string, obj: unknown) => {
    writeFileSync(join(dir, name), JSON.stringify(obj));
    await stack.kubectl('apply', '-f', join(dir, name));
  };

  const children: ReturnType<typeof spawnIn>[] = [];
  const output = () => children.map((c) => c.output()).join('\n---\n');
  const stop = async () => {
    for (const c of children.reverse()) await stopChild(c.child);
    // kube-proxy leaves its chains when it stops (they serve until the next one syncs);
    // --cleanup removes them, so the namespace holds none of them when it goes.
    netns.run(kubeProxy, ['--cleanup', '--proxy-mode', 'iptables']);
  };

  try {
    netns.run('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
    // The node's own connections to a ClusterIP are routed before OUTPUT's DNAT rewrites them:
    // a node has a default route for that; the namespace has none (no way out, by design), so
    // the Service range gets a route of its own, on the node's interface.
    netns.run('ip', ['route', 'add', o.serviceCidr, 'dev', NODE_BRIDGE, 'src', o.dnsAddress]);

    // kube-proxy as the user the bootstrap policy binds to system:node-proxier.
    const proxyKubeconfig = userKubeconfig(
      cluster,
      '/CN=system:kube-proxy',
      join(dir, 'kube-proxy-pki'),
    );
    children.push(
      spawnIn(netns, [
        kubeProxy,
        '--kubeconfig',
        proxyKubeconfig,
        '--proxy-mode',
        'iptables',
        '--hostname-override',
        stack.nodeName,
        '--cluster-cidr',
        o.clusterCidr,
        // NodePorts on the node's InternalIP only (the default takes every local address).
        '--nodeport-addresses',
        'primary',
        // The conntrack table's size and timeouts are the host's (nf_conntrack_max is not
        // the namespace's to set): 0 leaves them as they are.
        '--conntrack-max-per-core',
        '0',
        '--conntrack-tcp-timeout-established',
        '0',
        '--conntrack-tcp-timeout-close-wait',
        '0',
        '--healthz-bind-address',
        '127.0.0.1:10256',
        '--metrics-bind-address',
        '127.0.0.1:10249',
      ]),
    );

    // CoreDNS with its own identity, answering only the cluster domain (nothing to forward to:
    // the namespace has no way out, by design).
    await apply('coredns-rbac.json', corednsRbac);
    const dnsKubeconfig = userKubeconfig(cluster, `/CN=${COREDNS_USER}`, join(dir, 'coredns-pki'));
    const corefile = join(dir, 'Corefile');
    writeFileSync(
      corefile,
      `.:53 {\n` +
        `  bind ${o.dnsAddress}\n` +
        `  errors\n` +
        `  ready 127.0.0.1:8181\n` +
        `  kubernetes ${o.clusterDomain} in-addr.arpa ip6.arpa {\n` +
        `    kubeconfig ${dnsKubeconfig}\n` +
        `    pods insecure\n` +
        `    fallthrough in-addr.arpa ip6.arpa\n` +
        `  }\n` +
        `  cache 5\n` +
        `}\n`,
    );
    children.push(spawnIn(netns, [coredns, '-conf', corefile]));
    await apply('kube-dns.json', kubeDns(o.dnsIp, o.dnsAddress));

    // Ready: CoreDNS has synced with the apiserver, and kube-dns answers at its ClusterIP
    // through kube-proxy's rules (the namespace's own traffic takes the OUTPUT chain's DNAT).
    await until(
      'CoreDNS to be ready',
      async () =>
        netns.run('busybox', ['wget', '-q', '-O', '-', 'http://127.0.0.1:8181/ready']) !== '',
      60_000,
    );
    await until(
      'kube-dns to answer at its ClusterIP',
      async () =>
        netns
          .run('busybox', ['nslookup', `kubernetes.default.svc.${o.clusterDomain}`, o.dnsIp])
          .match(/^Address:\s*10\.0\.0\.1$/m) !== null,
      60_000,
    );
    return { output, stop };
  } catch (e) {
    const log = output().slice(-3000);
    await stop().catch(() => undefined);
    throw new Error(`${(e as Error).message}\n${log}`);
  }
}
