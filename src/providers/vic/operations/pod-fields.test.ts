// The invariant, as a test: every field of V1PodSpec, V1Container, V1SecurityContext and
// V1PodSecurityContext, as the client library's type metadata lists them, is decided in
// pod-fields.ts — applied (with a test that exists), the control plane's, or refused (and a pod
// setting it is refused with that reason) — and the README lists what is refused.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANNOTATION_RUNTIME } from '../cache/vic-pod.js';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { testPod } from '../../../../test/support/pods.js';
import type { FieldRule } from './field-rules.js';
import {
  CONTAINER_FIELDS,
  EPHEMERAL_CONTAINER_FIELDS,
  POD_SECURITY_CONTEXT_FIELDS,
  POD_SPEC_FIELDS,
  SECURITY_CONTEXT_FIELDS,
} from './pod-fields.js';
import { hostAccessNeed, notInPodVm } from './host-access.js';
import { validateEphemeralContainer, validatePod } from './validate.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../../..');

/** How a test pod gets a field: set on the pod's spec, container or one of their contexts. */
type Place = (pod: k8s.V1Pod, value: unknown) => string;
const onSpec: Place = (pod, v) => {
  const [field] = Object.keys(v as object);
  Object.assign(pod.spec!, v);
  return `spec.${field}`;
};
const onContainer: Place = (pod, v) => {
  const [field] = Object.keys(v as object);
  Object.assign(pod.spec!.containers[0], v);
  return `spec.containers["app"].${field}`;
};
const onEphemeral: Place = (pod, v) => {
  const [field] = Object.keys(v as object);
  pod.spec!.ephemeralContainers = [{ name: 'debug', image: 'busybox:1', ...(v as object) }];
  return `spec.ephemeralContainers["debug"].${field}`;
};
const onSc: Place = (pod, v) => {
  const [field] = Object.keys(v as object);
  pod.spec!.containers[0].securityContext = v as k8s.V1SecurityContext;
  return `spec.containers["app"].securityContext.${field}`;
};
const onPodSc: Place = (pod, v) => {
  const [field] = Object.keys(v as object);
  pod.spec!.securityContext = v as k8s.V1PodSecurityContext;
  return `spec.securityContext.${field}`;
};

/** What refuses: the pod (validatePod), or for an ephemeral container that container alone. */
const checkEphemeral = (pod: k8s.V1Pod) =>
  validateEphemeralContainer(pod, pod.spec!.ephemeralContainers![0]!);

// A value each refused field may not have: the test sets it and expects the field's reason.
const TYPES: {
  type: { getAttributeTypeMap(): { name: string }[] };
  name: string;
  table: Record<string, FieldRule>;
  place: Place;
  refusedValues: Record<string, unknown>;
  check?: (pod: k8s.V1Pod) => void;
}[] = [
  {
    type: k8s.V1PodSpec,
    name: 'V1PodSpec',
    table: POD_SPEC_FIELDS,
    place: onSpec,
    refusedValues: {
      hostIPC: true,
      hostNetwork: true,
      hostPID: true,
      hostUsers: false,
      hostnameOverride: 'other',
      os: { name: 'windows' },
      readinessGates: [{ conditionType: 'example.com/ready' }],
      resourceClaims: [{ name: 'gpu', resourceClaimName: 'gpu' }],
      resources: { limits: { cpu: '1' } },
      runtimeClassName: 'kata',
    },
  },
  {
    type: k8s.V1Container,
    name: 'V1Container',
    table: CONTAINER_FIELDS,
    place: onContainer,
    refusedValues: {
      lifecycle: { preStop: { tcpSocket: { port: 8080 } } },
      resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }],
      resources: { limits: { 'ephemeral-storage': '1Gi' } },
      restartPolicy: 'Always',
      restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [42] } }],
      stdin: true,
      stdinOnce: true,
      tty: true,
      volumeDevices: [{ name: 'block', devicePath: '/dev/xvdb' }],
    },
  },
  {
    type: k8s.V1EphemeralContainer,
    name: 'V1EphemeralContainer',
    table: EPHEMERAL_CONTAINER_FIELDS,
    place: onEphemeral,
    check: checkEphemeral,
    refusedValues: {
      lifecycle: { preStop: { tcpSocket: { port: 8080 } } },
      livenessProbe: { grpc: { port: 8080 } },
      readinessProbe: { grpc: { port: 8080, service: 'ready' } },
      resizePolicy: [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }],
      resources: { limits: { 'ephemeral-storage': '1Gi' } },
      restartPolicy: 'Always',
      restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [42] } }],
      startupProbe: { grpc: { port: 8080 } },
      stdin: true,
      stdinOnce: true,
      tty: true,
      volumeDevices: [{ name: 'block', devicePath: '/dev/xvdb' }],
    },
  },
  {
    type: k8s.V1SecurityContext,
    name: 'V1SecurityContext',
    table: SECURITY_CONTEXT_FIELDS,
    place: onSc,
    refusedValues: {
      appArmorProfile: { type: 'RuntimeDefault' },
      privileged: true,
      procMount: 'Unmasked',
      seLinuxOptions: { level: 's0:c1' },
      windowsOptions: { runAsUserName: 'app' },
    },
  },
  {
    type: k8s.V1PodSecurityContext,
    name: 'V1PodSecurityContext',
    table: POD_SECURITY_CONTEXT_FIELDS,
    place: onPodSc,
    refusedValues: {
      appArmorProfile: { type: 'Localhost', localhostProfile: 'p' },
      seLinuxChangePolicy: 'MountOption',
      seLinuxOptions: { level: 's0:c1' },
      supplementalGroupsPolicy: 'Strict',
      windowsOptions: { runAsUserName: 'app' },
    },
  },
];

const appPod = () => testPod('p', [{ name: 'app', image: 'busybox:1' }]);
const reasonOf = (r: FieldRule) => ('refused' in r ? r.refused : 'gap' in r ? r.gap : undefined);

function readmeSection(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- pod-fields:start -->');
  const end = readme.indexOf('<!-- pod-fields:end -->');
  expect(start, 'the README has a pod-fields section').toBeGreaterThan(0);
  return readme.slice(start, end);
}

const VM_ONLY = ['stdin', 'stdinOnce', 'tty'];

describe.each(TYPES)(
  '$name',
  ({ type, name, table, place, refusedValues, check = validatePod }) => {
    const fields = type.getAttributeTypeMap().map((a) => a.name);

    it('every field of the type is decided, and every decision is a field of the type', () => {
      expect(Object.keys(table).sort()).toEqual([...fields].sort());
    });

    it('an applied field names a test that exists', () => {
      for (const [field, rule] of Object.entries(table))
        if ('applied' in rule)
          expect(existsSync(join(repo, rule.test)), `${field}: ${rule.test}`).toBe(true);
    });

    it('a pod that sets a refused field is refused with the field and its reason', () => {
      for (const [field, rule] of Object.entries(table)) {
        const reason = reasonOf(rule);
        if (!reason) continue;
        if ('gap' in rule && !(field in refusedValues)) continue; // no value to refuse
        expect(refusedValues, `a refused value for ${field}`).toHaveProperty([field]);
        const pod = appPod();
        // A container's own stdin and terminal are refused in a pod VM only.
        if (VM_ONLY.includes(field) && (name === 'V1Container' || name === 'V1EphemeralContainer'))
          pod.metadata!.annotations = { [ANNOTATION_RUNTIME]: 'vm' };
        const path = place(pod, { [field]: refusedValues[field] });
        expect(() => check(pod), field).toThrow(`${path}: ${reason}`);
        try {
          check(pod);
        } catch (err) {
          expect(err).toMatchObject({ kind: 'InvalidInput' });
        }
      }
    });

    it('the README lists every refused field', () => {
      const section = readmeSection();
      for (const [field, rule] of Object.entries(table))
        if (reasonOf(rule))
          expect(section, field).toMatch(new RegExp(`\`([A-Za-z.]*\\.)?${field}\``));
    });
  },
);

describe('validatePod', () => {
  it('accepts a pod as the API server defaults it for `kubectl run`', () => {
    const pod = JSON.parse(
      readFileSync(join(here, 'testdata/kubectl-run-pod.json'), 'utf8'),
    ) as k8s.V1Pod;
    expect(pod.spec!.volumes).toHaveLength(1);
    expect(() => validatePod(pod)).not.toThrow();
  });

  it('accepts values that ask for what every container gets here', () => {
    const pod = appPod();
    Object.assign(pod.spec!, {
      hostNetwork: false,
      hostPID: false,
      shareProcessNamespace: false,
      dnsPolicy: 'Default',
      os: { name: 'linux' },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'Unconfined' },
      },
    });
    Object.assign(pod.spec!.containers[0], {
      ports: [{ containerPort: 80, protocol: 'TCP', name: 'http' }],
      stdin: false,
      tty: false,
      resources: {
        requests: { cpu: '100m', 'ephemeral-storage': '1Gi' },
        limits: { memory: '64Mi' },
      },
      securityContext: {
        privileged: false,
        allowPrivilegeEscalation: true,
        readOnlyRootFilesystem: false,
        procMount: 'Default',
        runAsGroup: 100,
        capabilities: { add: [], drop: [] },
      },
    });
    expect(() => validatePod(pod)).not.toThrow();
  });

  it('accepts stdin, stdinOnce and tty on runc (the tether holds them), refuses them in a VM', () => {
    const pod = appPod();
    Object.assign(pod.spec!.containers[0], { stdin: true, stdinOnce: true, tty: true });
    expect(() => validatePod(pod)).not.toThrow();
    pod.metadata!.annotations = { [ANNOTATION_RUNTIME]: 'vm' };
    expect(() => validatePod(pod)).toThrow(/stdin is not supported in a pod VM yet/);
  });

  it('accepts exec probes and exec and sleep hooks (prober.ts, hook-runner.ts)', () => {
    const pod = appPod();
    const exec = { exec: { command: ['true'] } };
    Object.assign(pod.spec!.containers[0], {
      livenessProbe: { ...exec, periodSeconds: 1 },
      readinessProbe: exec,
      startupProbe: exec,
      lifecycle: { postStart: exec, preStop: { sleep: { seconds: 1 } } },
    });
    expect(() => validatePod(pod)).not.toThrow();
  });

  it('accepts httpGet, tcpSocket and grpc probes and httpGet hooks; refuses tcpSocket hooks', () => {
    const pod = appPod();
    pod.spec!.containers[0].readinessProbe = { httpGet: { port: 'http' as unknown as number } };
    pod.spec!.containers[0].livenessProbe = { tcpSocket: { port: 80 as never } };
    pod.spec!.containers[0].lifecycle = { preStop: { httpGet: { port: 80 as never } } };
    pod.spec!.containers[0].startupProbe = { grpc: { port: 9000, service: 'app' } };
    expect(() => validatePod(pod)).not.toThrow();
    pod.spec!.containers[0].startupProbe = undefined;
    pod.spec!.containers[0].readinessProbe = undefined;
    pod.spec!.containers[0].lifecycle = { postStart: { tcpSocket: { port: 80 } as never } };
    expect(() => validatePod(pod)).toThrow(/lifecycle: .*tcpSocket is not a lifecycle handler/);
  });

  it('privileged and the host namespaces: refused unless the node runs with the flag for them', () => {
    const pod = appPod();
    Object.assign(pod.spec!, { hostNetwork: true, hostPID: true, hostIPC: true });
    pod.spec!.containers[0].securityContext = { privileged: true };
    expect(() => validatePod(pod)).toThrow(/--allow-host-namespaces/);
    expect(() => validatePod(pod, { allowHostNamespaces: true })).toThrow(
      'spec.containers["app"].securityContext.privileged: privileged containers run only on a node started with --allow-privileged',
    );
    expect(() => validatePod(pod, { allowPrivileged: true })).toThrow(
      "spec.hostNetwork: a pod shares the node's network namespace only on a node started with --allow-host-namespaces",
    );
    expect(() =>
      validatePod(pod, { allowPrivileged: true, allowHostNamespaces: true }),
    ).not.toThrow();
    // An init container is held to the same.
    const init = appPod();
    init.spec!.initContainers = [
      { name: 'setup', image: 'busybox:1', securityContext: { privileged: true } },
    ];
    expect(() => validatePod(init)).toThrow(
      /initContainers\["setup"\]\.securityContext\.privileged/,
    );
    expect(() => validatePod(init, { allowPrivileged: true })).not.toThrow();
  });

  it('names what asks for the host, which a pod VM refuses in one line', () => {
    const pod = appPod();
    expect(hostAccessNeed(pod)).toBeUndefined();
    pod.spec!.containers[0].securityContext = { privileged: false };
    expect(hostAccessNeed(pod)).toBeUndefined();
    pod.spec!.containers[0].securityContext = { privileged: true };
    expect(hostAccessNeed(pod)).toBe('spec.containers["app"].securityContext.privileged');
    pod.spec!.hostPID = true;
    expect(hostAccessNeed(pod)).toBe('spec.hostPID');
    const why = notInPodVm('spec.hostPID');
    expect(why.split('\n')).toHaveLength(1);
    expect(why).toMatch(/^spec\.hostPID: a pod VM .* run the pod on runc/);
  });

  it('runAsNonRoot is no reason to refuse a pod: the task checks it (security-config.ts)', () => {
    const pod = appPod();
    pod.spec!.securityContext = { runAsNonRoot: true, runAsUser: 0 };
    expect(() => validatePod(pod)).not.toThrow();
  });

  it('refuses a volume source this node does not mount, with the reason', () => {
    const pod = appPod();
    pod.spec!.volumes = [{ name: 'db', persistentVolumeClaim: { claimName: 'pg' } }];
    expect(() => validatePod(pod)).toThrow(
      /spec\.volumes\["db"\]: persistentVolumeClaim volumes are not supported by this node/,
    );
  });

  it('refuses a field this node does not know (a newer API server)', () => {
    const pod = appPod();
    (pod.spec as Record<string, unknown>).futureField = { on: true };
    expect(() => validatePod(pod)).toThrow(/spec\.futureField: this node does not know the field/);
    (pod.spec as Record<string, unknown>).futureField = undefined;
    expect(() => validatePod(pod)).not.toThrow();
  });
});

describe('validateEphemeralContainer', () => {
  const withDebug = (ec: Partial<k8s.V1EphemeralContainer>) => {
    const pod = appPod();
    pod.spec!.ephemeralContainers = [{ name: 'debug', image: 'busybox:1', ...ec }];
    return pod;
  };

  it('accepts what kubectl debug sends, with or without --target', () => {
    for (const ec of [
      { targetContainerName: 'app', terminationMessagePolicy: 'File', imagePullPolicy: 'Always' },
      { command: ['sh', '-c', 'echo hi'], stdin: false, tty: false },
    ]) {
      const pod = withDebug(ec);
      expect(() => validatePod(pod)).not.toThrow();
      expect(() => checkEphemeral(pod)).not.toThrow();
    }
  });

  it('refuses a target that is not a container of the pod, and a name a container has', () => {
    expect(() => checkEphemeral(withDebug({ targetContainerName: 'nope' }))).toThrow(
      /targetContainerName: no container "nope" in the pod/,
    );
    expect(() => checkEphemeral(withDebug({ name: 'app' }))).toThrow(
      /a container of the pod has that name already/,
    );
  });
});
