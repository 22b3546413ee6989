import { describe, expect, it } from 'vitest';
import { securityOf } from './security-opts.js';

describe('securityOf (HostConfig → security spec)', () => {
  it('asks nothing for an empty or defaulted HostConfig', () => {
    expect(securityOf({})).toBeUndefined();
    expect(
      securityOf({ ReadonlyRootfs: false, CapAdd: null, CapDrop: [], SecurityOpt: null }),
    ).toBeUndefined();
  });

  it('takes --read-only, --cap-add, --cap-drop and every spelling of no-new-privileges', () => {
    expect(
      securityOf({
        ReadonlyRootfs: true,
        CapAdd: ['NET_ADMIN'],
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
      }),
    ).toEqual({
      readOnlyRootfs: true,
      capAdd: ['NET_ADMIN'],
      capDrop: ['ALL'],
      noNewPrivileges: true,
    });
    for (const opt of ['no-new-privileges:true', 'no-new-privileges=true'])
      expect(securityOf({ SecurityOpt: [opt] })).toEqual({ noNewPrivileges: true });
    expect(securityOf({ SecurityOpt: ['no-new-privileges:false'] })).toBeUndefined();
  });

  it('takes seccomp=unconfined, builtin and a profile the docker CLI sent as JSON', () => {
    expect(securityOf({ SecurityOpt: ['seccomp=unconfined'] })).toEqual({
      seccomp: { type: 'Unconfined' },
    });
    expect(securityOf({ SecurityOpt: ['seccomp:builtin'] })).toBeUndefined();
    const profile = '{"defaultAction":"SCMP_ACT_ALLOW"}';
    expect(securityOf({ SecurityOpt: [`seccomp=${profile}`] })).toEqual({
      seccomp: { type: 'Localhost', profile },
    });
    expect(() => securityOf({ SecurityOpt: ['seccomp=/etc/p.json'] })).toThrow(
      /want unconfined, builtin or a profile's JSON/,
    );
  });

  it('refuses another security option, and malformed fields, in one line', () => {
    expect(() => securityOf({ SecurityOpt: ['apparmor=unconfined'] })).toThrow(
      'security option "apparmor=unconfined" is not supported by this VCH (only no-new-privileges and seccomp)',
    );
    expect(() => securityOf({ SecurityOpt: ['no-new-privileges:maybe'] })).toThrow(/not supported/);
    expect(() => securityOf({ CapAdd: 'NET_ADMIN' })).toThrow(
      'invalid HostConfig.CapAdd: want a list of strings',
    );
    expect(() => securityOf({ ReadonlyRootfs: 'yes' })).toThrow(/ReadonlyRootfs/);
  });
});
