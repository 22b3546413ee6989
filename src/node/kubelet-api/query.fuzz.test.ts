// Fuzzing the kubelet API's query and path parsing (containerLogs, exec): whatever the URL,
// the parsers give options or one clean 4xx refusal, never a crash.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { expectRefusal, fuzz, nastyString } from '../../../test/support/fuzz.js';
import { parseExecRequest } from './exec-request.js';
import { parseLogQuery } from './log-options.js';

const logKeys = ['tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes', 'timestamps', 'follow',
  'previous', 'stream', 'insecureSkipTLSVerifyBackend']; // prettier-ignore
const execKeys = ['command', 'tty', 'stdin', 'input', 'stdout', 'output', 'stderr', 'error'];

const query = (keys: string[]) =>
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...keys), nastyString), nastyString), {
      maxLength: 8,
    })
    .map((pairs) => new URLSearchParams(pairs));

it('parses any containerLogs query or refuses it cleanly', async () => {
  await fuzz(
    'kubelet containerLogs query',
    fc.property(query(logKeys), (q) => {
      try {
        const o = parseLogQuery(q, 1_700_000_000_000);
        if (o.tail !== undefined) expect(o.tail).toBeGreaterThanOrEqual(0);
        if (o.limitBytes !== undefined) expect(o.limitBytes).toBeGreaterThan(0);
      } catch (e) {
        expectRefusal(e);
      }
    }),
    { runs: 5000 },
  );
});

it('parses any exec path and query or refuses it cleanly', async () => {
  await fuzz(
    'kubelet exec request',
    fc.property(
      fc.array(fc.oneof(nastyString, fc.constantFrom('exec', 'ns', 'pod', 'c')), { maxLength: 6 }),
      query(execKeys),
      (parts, q) => {
        try {
          const r = parseExecRequest(parts, q);
          expect(r.command.length).toBeGreaterThan(0);
          expect(r.stdin || r.stdout || r.stderr).toBe(true);
        } catch (e) {
          expectRefusal(e);
        }
      },
    ),
    { runs: 5000 },
  );
});
