// What a restart does with operations a crash cut short (found by test/integration/
// vch-crash.test.ts): a create the runtime never finished is undone, not shown as an exited
// container with no known status; an implicit pod left without its container loses its sandbox.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FakeRuntime, writeTestLayout } from '../../../test/support/fake-runtime.js';
import { Vch } from '../vch.js';

let dir: string;
let fake: FakeRuntime;
let vch: Vch;
const open = () => Vch.open({ stateDir: join(dir, 'state'), runtime: () => fake });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vch-reconcile-'));
  fake = new FakeRuntime();
  vch = await open();
  await writeTestLayout(join(dir, 'layout'), 'example.test/app:1', { Cmd: ['/bin/app'] });
  await vch.loadImages(join(dir, 'layout'));
});
afterEach(async () => {
  await vch.close();
  rmSync(dir, { recursive: true, force: true });
});

it('undoes a create the runtime never finished, and keeps a finished one', async () => {
  const half = await vch.createContainer({ image: 'example.test/app:1', name: 'half' });
  const whole = await vch.createContainer({ image: 'example.test/app:1', name: 'whole' });
  await vch.close();
  // The crash came after the database recorded `half`, before the runtime had it.
  fake.containers.delete(half.id);
  vch = await open();
  await expect(vch.inspectContainer('half')).rejects.toMatchObject({ kind: 'NotFound' });
  expect(await vch.inspectContainer('whole')).toMatchObject({ status: 'created' });
  // Its implicit pod went with it: one sandbox is left, `whole`'s.
  expect(fake.sandboxes.size).toBe(1);
  expect(fake.containers.get(whole.id)?.sandboxId).toBe([...fake.sandboxes.keys()][0]);
});

it('removes the sandbox of a container whose removal a crash cut short', async () => {
  const c = await vch.createContainer({ image: 'example.test/app:1', name: 'gone' });
  const removeSandbox = fake.removeSandbox.bind(fake);
  // The crash: the container's record is gone, its sandbox is not.
  fake.removeSandbox = async () => {
    throw new Error('killed');
  };
  await expect(vch.removeContainer(c.id)).rejects.toThrow('killed');
  fake.removeSandbox = removeSandbox;
  expect(fake.sandboxes.size).toBe(1);
  await vch.close();
  vch = await open();
  expect(fake.sandboxes.size).toBe(0);
  expect(await vch.listContainers({ all: true })).toEqual([]);
});

it("removes the directory of a removed container (a crash before its last step), and keeps others'", async () => {
  const kept = await vch.createContainer({ image: 'example.test/app:1', name: 'kept' });
  await vch.close();
  const orphan = join(dir, 'state', 'containers', 'e'.repeat(64));
  mkdirSync(orphan, { recursive: true });
  writeFileSync(join(orphan, 'output.log'), 'x');
  vch = await open();
  expect(existsSync(orphan)).toBe(false);
  expect(existsSync(join(dir, 'state', 'containers', kept.id, 'output.log'))).toBe(true);
});
