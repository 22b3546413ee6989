import { describe, expect, it } from 'vitest';
import { portMappingsOf } from './create-ports.js';

describe("the portlayer's ports extension", () => {
  it('takes well-formed port mappings', () => {
    expect(portMappingsOf(undefined)).toEqual([]);
    expect(
      portMappingsOf([{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '10.0.0.1' }]),
    ).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '10.0.0.1' }]);
  });

  it('refuses anything else in one line', () => {
    const bad: [unknown, string][] = [
      [{}, 'ports must be a list'],
      [[7], 'ports[0] must be an object'],
      [
        [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }],
        'ports[0].hostPort 0: want 1 to 65535',
      ],
      [[{ hostPort: 80, containerPort: 80.5, protocol: 'tcp' }], 'ports[0].containerPort 80.5'],
      [[{ hostPort: 80, containerPort: 80, protocol: 'TCP' }], 'ports[0].protocol "TCP"'],
      [
        [{ hostPort: 80, containerPort: 80, protocol: 'tcp', hostIP: 1 }],
        'hostIP must be a string',
      ],
    ];
    for (const [v, msg] of bad) expect(() => portMappingsOf(v)).toThrow(msg);
  });
});
