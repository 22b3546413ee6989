// The gRPC health server of the grpc probe tests (google.golang.org/grpc's health server, built
// by test/grpc-health/build.sh from the Go module proxy, static, cached by version), to be put
// into the test image: `grpc-health -port P [-service NAME] [-fail-after 5s]`.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const buildScript = fileURLToPath(new URL('../grpc-health/build.sh', import.meta.url));

/** Builds (or finds cached) the server; its path on the host. */
export function grpcHealthServer(): string {
  const dir = execFileSync('bash', [buildScript], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return join(dir, 'grpc-health');
}
