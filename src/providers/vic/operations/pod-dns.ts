// A pod's names as the kubelet makes them (pkg/kubelet/network/dns and GeneratePodHostNameAndDomain):
// its hostname and domain, its resolv.conf from dnsPolicy and dnsConfig, and its /etc/hosts
// aliases — made concrete here, from the node's flags (--cluster-dns, --cluster-domain,
// --resolv-conf), and handed to the VCH as the pod's create config.
import { readFileSync } from 'node:fs';
import type * as k8s from '@kubernetes/client-node';
import type { ContainerCreateConfig } from '../../../api/portlayer/index.js';
import {
  mergeOptions,
  parseResolvConf,
  unique,
  withinLimits,
  type DnsConfig,
} from '../../../api/resolv-conf.js';
import type { PodEvent } from '../../../node/provider.js';
import { invalidInput } from '../../../node/errors.js';

/** The node's DNS settings: the kubelet's flags of the same names. */
export interface NodeDns {
  /** --cluster-dns: the cluster DNS Service's IPs; none: ClusterFirst pods get the node's. */
  clusterDns: string[];
  /** --cluster-domain. */
  clusterDomain: string;
  /** --resolv-conf: the node's resolv.conf, what Default pods get; '' for none. */
  resolvConf: string;
}

export const DEFAULT_NODE_DNS: NodeDns = {
  clusterDns: [],
  clusterDomain: 'cluster.local',
  resolvConf: '/etc/resolv.conf',
};

/** The first line of a kubelet-managed /etc/hosts (the conformance tests look for it). */
export const KUBELET_HOSTS_HEADER = '# Kubernetes-managed hosts file.';

/** The kubelet's options for a ClusterFirst pod. */
const CLUSTER_OPTIONS = ['ndots:5'];

/** The most a hostname may be (the kernel's), when it is the FQDN (setHostnameAsFQDN). */
const MAX_FQDN = 64;

export type PodNamesConfig = Pick<
  ContainerCreateConfig,
  'hostname' | 'domainname' | 'dns' | 'hostAliases' | 'hostsHeader'
>;

/** The pod's hostname, as the kubelet sets it: spec.hostname, else the pod name (≤ 63). */
export function podHostname(pod: k8s.V1Pod): string {
  return (pod.spec?.hostname || pod.metadata!.name!).slice(0, 63).replace(/[-.]+$/, '');
}

/** The pod's domain: `subdomain.namespace.svc.clusterDomain` when it has a subdomain. */
export function podDomain(pod: k8s.V1Pod, clusterDomain: string): string | undefined {
  const sub = pod.spec?.subdomain;
  return sub ? `${sub}.${pod.metadata!.namespace}.svc.${clusterDomain}` : undefined;
}

/**
 * The pod's names for the VCH, and the Events the kubelet would write on the way (a ClusterFirst
 * pod on a node without cluster DNS; a resolv.conf cut to the resolver's limits). A hostname
 * that cannot be the FQDN the pod asks for is InvalidInput: the pod cannot run on any node.
 */
export function podNames(
  pod: k8s.V1Pod,
  node: NodeDns,
): { config: PodNamesConfig; events: PodEvent[] } {
  const spec = pod.spec!;
  const events: PodEvent[] = [];
  const hostname = podHostname(pod);
  const domain = podDomain(pod, node.clusterDomain);
  let uts = hostname;
  if (spec.setHostnameAsFQDN && domain) {
    uts = `${hostname}.${domain}`;
    if (uts.length > MAX_FQDN)
      throw invalidInput(
        `failed to construct FQDN from pod hostname and cluster domain, FQDN ${uts} is too long (${MAX_FQDN} characters is the max, ${uts.length} characters requested)`,
      );
  }
  const dns = resolvConf(pod, node, events);
  return {
    config: {
      hostname: uts,
      ...(domain && { domainname: domain }),
      dns,
      ...(spec.hostAliases?.length && {
        hostAliases: spec.hostAliases.map((a) => ({ ip: a.ip!, hostnames: a.hostnames ?? [] })),
      }),
      hostsHeader: KUBELET_HOSTS_HEADER,
    },
    events,
  };
}

function resolvConf(pod: k8s.V1Pod, node: NodeDns, events: PodEvent[]): DnsConfig {
  const spec = pod.spec!;
  const policy = spec.dnsPolicy ?? 'ClusterFirst';
  let dns: DnsConfig;
  if (policy === 'None') dns = { nameservers: [], searches: [], options: [] };
  else if (policy === 'Default') dns = hostDns(node);
  else if (node.clusterDns.length === 0) {
    // ClusterFirst (or ClusterFirstWithHostNet: our pods never use the host's network).
    const msg = `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`;
    events.push({
      type: 'Warning',
      reason: 'MissingClusterDNS',
      message: `pod: "${podRef(pod)}". ${msg}`,
    });
    dns = hostDns(node);
  } else {
    const host = hostDns(node);
    const d = node.clusterDomain;
    const ns = pod.metadata!.namespace!;
    dns = {
      nameservers: node.clusterDns,
      searches: d ? unique([`${ns}.svc.${d}`, `svc.${d}`, d, ...host.searches]) : host.searches,
      options: CLUSTER_OPTIONS,
    };
  }
  const extra = spec.dnsConfig;
  if (extra) {
    dns = {
      nameservers: unique([...dns.nameservers, ...(extra.nameservers ?? [])]),
      searches: unique([...dns.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(
        dns.options,
        (extra.options ?? []).map((o) =>
          o.value !== undefined ? `${o.name}:${o.value}` : o.name!,
        ),
      ),
    };
  }
  const { config, dropped } = withinLimits(dns);
  if (dropped.length)
    events.push({
      type: 'Warning',
      reason: 'DNSConfigForming',
      message: `the pod's resolv.conf was cut to the resolver's limits, leaving out ${dropped.join('; ')}; the applied nameserver line is: ${config.nameservers.join(' ')}`,
    });
  return config;
}

/**
 * The node's resolv.conf, as the kubelet reads its --resolv-conf. With --resolv-conf '' the
 * kubelet gives pods the local resolver and no search path; so do we.
 */
function hostDns(node: NodeDns): DnsConfig {
  if (node.resolvConf === '') return { nameservers: ['127.0.0.1'], searches: ['.'], options: [] };
  // Read at each pod's creation, as the kubelet does (an edited file counts at once); a small
  // local file, read synchronously so that making a pod's config stays one step.
  let text = '';
  try {
    text = readFileSync(node.resolvConf, 'utf8');
  } catch {
    // No file: no host settings, as for an empty one.
  }
  return parseResolvConf(text);
}

function podRef(pod: k8s.V1Pod): string {
  return `${pod.metadata!.name}_${pod.metadata!.namespace}(${pod.metadata!.uid ?? ''})`;
}
