import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNames, hostsFile, resolvConfFile } from './etc-files.js';

describe('hostsFile', () => {
  it('maps localhost and the pod hostname to loopback', () => {
    expect(hostsFile('web-0')).toMatch(/^127\.0\.0\.1\tlocalhost\n/);
    expect(hostsFile('web-0')).toMatch(/\n127\.0\.1\.1\tweb-0\n$/);
  });

  it("maps the hostname to the pod's IP once it has one", () => {
    expect(hostsFile('web-0', '10.88.0.7')).toMatch(/^127\.0\.0\.1\tlocalhost\n/);
    expect(hostsFile('web-0', '10.88.0.7')).toMatch(/\n10\.88\.0\.7\tweb-0\n$/);
    expect(hostsFile('web-0', '10.88.0.7')).not.toContain('127.0.1.1');
  });

  it('writes the kubelet header, the FQDN and the aliases', () => {
    const text = hostsFile('web-0', '10.88.0.7', {
      hostsHeader: '# Kubernetes-managed hosts file.',
      domain: 'web.default.svc.cluster.local',
      hostAliases: [
        { ip: '10.1.2.3', hostnames: ['db', 'db.local'] },
        { ip: 'fd00::1', hostnames: ['v6'] },
      ],
    });
    expect(text).toMatch(/^# Kubernetes-managed hosts file\.\n127\.0\.0\.1\tlocalhost\n/);
    expect(text).toContain('\n10.88.0.7\tweb-0.web.default.svc.cluster.local\tweb-0\n');
    // The hostname may already be the FQDN (setHostnameAsFQDN): the same line.
    const fqdn = hostsFile('web-0.web.default.svc.cluster.local', '10.88.0.7', {
      domain: 'web.default.svc.cluster.local',
    });
    expect(fqdn).toContain('\n10.88.0.7\tweb-0.web.default.svc.cluster.local\tweb-0\n');
    expect(text).toMatch(
      /\n\n# Entries added by HostAliases\.\n10\.1\.2\.3\tdb\tdb\.local\nfd00::1\tv6\n$/,
    );
  });
});

describe('resolvConfFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etc-files-'));
  const host = join(dir, 'resolv.conf');
  writeFileSync(
    host,
    '# from DHCP\nnameserver 192.0.2.53\nnameserver 192.0.2.54 ; second\nsearch corp.example\noptions edns0\n',
  );

  it("is the host's when the spec says nothing", async () => {
    expect(await resolvConfFile(undefined, host)).toBe(
      'nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example\noptions edns0\n',
    );
  });

  it("takes the spec's parts and the host's for the rest (Docker's --dns)", async () => {
    expect(await resolvConfFile({ nameservers: ['10.96.0.10'] }, host)).toBe(
      'nameserver 10.96.0.10\nsearch corp.example\noptions edns0\n',
    );
  });

  it('is the spec alone when complete, even empty parts (dnsPolicy None)', async () => {
    const missing = join(dir, 'absent');
    expect(
      await resolvConfFile(
        { nameservers: ['1.1.1.1'], searches: [], options: ['ndots:2'] },
        missing,
      ),
    ).toBe('nameserver 1.1.1.1\noptions ndots:2\n');
    expect(await resolvConfFile({}, missing)).toBe('');
  });
});

describe('checkNames', () => {
  it('takes IPs, DNS names and options', () => {
    const ok = {
      dns: {
        nameservers: ['10.96.0.10', 'fd00::10'],
        searches: ['ns.svc.cluster.local'],
        options: ['ndots:5', 'edns0'],
      },
      domain: 'sub.ns.svc.cluster.local',
      hostAliases: [{ ip: '10.1.2.3', hostnames: ['db', 'db_1.local'] }],
      hostsHeader: '# Kubernetes-managed hosts file.',
    };
    expect(checkNames(ok)).toBe(ok);
  });

  it.each([
    [{ dns: { nameservers: ['dns.example'] } }, 'invalid nameserver "dns.example"'],
    [{ dns: { searches: ['a b'] } }, 'invalid search domain "a b"'],
    [{ dns: { options: ['ndots:5\nnameserver 6.6.6.6'] } }, 'invalid DNS option'],
    [{ domain: 'x\ny' }, 'invalid domain'],
    [
      { hostAliases: [{ ip: '10.0.0.1\n6.6.6.6', hostnames: ['x'] }] },
      'invalid host alias address',
    ],
    [
      { hostAliases: [{ ip: '10.0.0.1', hostnames: ['ok', 'evil\n6.6.6.6 bank'] }] },
      'invalid host alias name',
    ],
    [{ hostAliases: [{ ip: '10.0.0.1', hostnames: [] }] }, 'invalid host alias without names for'],
    [{ hostsHeader: 'not a comment' }, 'invalid hosts header'],
  ])('refuses %j', (names, message) => {
    expect(() => checkNames(names)).toThrow(message);
  });
});
