import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH, imageProcessConfig, mergeEnv, mergeProcessSpec } from './process-spec.js';

const image = {
  Entrypoint: ['/entry.sh'],
  Cmd: ['serve', '--port', '80'],
  Env: ['PATH=/usr/bin:/bin', 'A=image', 'B=image'],
  WorkingDir: '/app',
  User: 'www',
};

describe('mergeProcessSpec (Docker rules)', () => {
  it('takes everything from the image when the request sets nothing', () => {
    expect(mergeProcessSpec(image, {})).toEqual({
      args: ['/entry.sh', 'serve', '--port', '80'],
      env: ['PATH=/usr/bin:/bin', 'A=image', 'B=image'],
      cwd: '/app',
      user: 'www',
    });
  });

  it('a request cmd replaces the image Cmd and keeps its Entrypoint (Kubernetes args)', () => {
    expect(mergeProcessSpec(image, { cmd: ['debug'] }).args).toEqual(['/entry.sh', 'debug']);
  });

  it('a request entrypoint drops the image Cmd (Kubernetes command without args)', () => {
    expect(mergeProcessSpec(image, { entrypoint: ['/bin/sh'] }).args).toEqual(['/bin/sh']);
  });

  it('entrypoint and cmd from the request (Kubernetes command and args)', () => {
    expect(mergeProcessSpec(image, { entrypoint: ['/bin/sh'], cmd: ['-c', 'x'] }).args).toEqual([
      '/bin/sh',
      '-c',
      'x',
    ]);
  });

  it('an empty request cmd means no Cmd, not the image one', () => {
    expect(mergeProcessSpec(image, { cmd: [] }).args).toEqual(['/entry.sh']);
  });

  it('merges env by key, request winning, order of first appearance', () => {
    const p = mergeProcessSpec(image, { env: ['B=req', 'C=req', 'A=req2'] });
    expect(p.env).toEqual(['PATH=/usr/bin:/bin', 'A=req2', 'B=req', 'C=req']);
  });

  it('adds the default PATH when neither sets one', () => {
    const p = mergeProcessSpec({ Cmd: ['x'] }, { env: ['A=1'] });
    expect(p.env).toEqual([DEFAULT_PATH, 'A=1']);
    expect(mergeProcessSpec({ Cmd: ['x'] }, { env: ['PATH=/mine'] }).env).toEqual(['PATH=/mine']);
  });

  it('request working dir and user win; defaults are / and root', () => {
    expect(mergeProcessSpec(image, { workingDir: '/tmp', user: '1000:1000' })).toMatchObject({
      cwd: '/tmp',
      user: '1000:1000',
    });
    expect(mergeProcessSpec({ Cmd: ['x'] }, {})).toMatchObject({ cwd: '/', user: '' });
  });

  it('refuses no command and a relative working dir', () => {
    expect(() => mergeProcessSpec({}, {})).toThrow(/no command/);
    expect(() => mergeProcessSpec({ Cmd: ['x'] }, { workingDir: 'rel' })).toThrow(/not absolute/);
    expect(() => mergeProcessSpec({ Cmd: ['x'] }, { env: ['=x'] })).toThrow(/invalid environment/);
  });
});

describe('imageProcessConfig', () => {
  it('reads the fields and tolerates null and absent ones', () => {
    expect(imageProcessConfig({ Cmd: ['a'], Entrypoint: null, Env: null, User: '' })).toEqual({
      Cmd: ['a'],
      Entrypoint: undefined,
      Env: undefined,
      WorkingDir: undefined,
      User: undefined,
      StopSignal: undefined,
    });
    expect(imageProcessConfig(undefined)).toEqual({});
  });

  it('refuses malformed fields with InvalidInput', () => {
    expect(() => imageProcessConfig({ Cmd: 'sh' })).toThrow(
      expect.objectContaining({ kind: 'InvalidInput' }),
    );
    expect(() => imageProcessConfig({ User: 5 })).toThrow(/User is not a string/);
    expect(() => imageProcessConfig([])).toThrow(/not an object/);
  });
});

describe('mergeEnv', () => {
  it('keeps a KEY without = as is', () => {
    expect(mergeEnv(['A'], ['A=1', 'B'])).toEqual(['A=1', 'B']);
  });
});
