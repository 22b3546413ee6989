// The portlayer contract: the routes and the model fields the project uses, checked against
// VIC's own API description (../shared/reference/vic-portlayer-swagger.json beside the clone).
// A route or a field that drifts from VIC's API fails here; ours are marked extensions.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type FieldSpec, MODELS, type ModelSpec, type WireType } from './fields.js';
import { type Route, ROUTES } from './routes.js';

interface SwaggerSchema {
  type?: string;
  $ref?: string;
  items?: SwaggerSchema;
  properties?: Record<string, SwaggerSchema>;
  additionalProperties?: SwaggerSchema | boolean;
  enum?: unknown[];
}

interface Swagger {
  paths: Record<string, Record<string, { operationId?: string }>>;
  definitions: Record<string, SwaggerSchema>;
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SWAGGER_PATH = join(REPO_ROOT, '..', 'shared', 'reference', 'vic-portlayer-swagger.json');

/** VIC's swagger; a missing file fails the test (it is the contract, never optional). */
function loadSwagger(): Swagger {
  return JSON.parse(readFileSync(SWAGGER_PATH, 'utf8')) as Swagger;
}

/** A path template with its parameter names blanked: "/containers/{}/state". */
const shape = (path: string) => path.replace(/\{[^}]*\}/g, '{}');

function routeProblems(swagger: Swagger, routes: Record<string, Route>): string[] {
  const problems: string[] = [];
  for (const [name, r] of Object.entries(routes)) {
    // VIC spells one shape several ways (/containers/{id} and /containers/{handle}).
    const found = Object.entries(swagger.paths)
      .filter(([path]) => shape(path) === shape(r.path))
      .map(([path, ops]) => ({ path, op: ops[r.method.toLowerCase()] }))
      .find((x) => x.op !== undefined);
    if (r.extension) {
      if (found)
        problems.push(`route ${name}: marked an extension, but VIC has ${r.method} ${r.path}`);
      continue;
    }
    if (!found) problems.push(`route ${name}: VIC has no ${r.method} ${r.path}`);
    else if (found.op.operationId !== r.operationId)
      problems.push(
        `route ${name}: ${r.method} ${found.path} is VIC's ${found.op.operationId}, not ${r.operationId}`,
      );
  }
  return problems;
}

const refName = (s: SwaggerSchema | undefined) => s?.$ref?.replace('#/definitions/', '');

/** Whether a swagger property's type takes what our field holds. */
function fits(type: WireType, p: SwaggerSchema, models: Record<string, ModelSpec>): boolean {
  if (typeof type === 'object') {
    const name = 'model' in type ? type.model : type.list;
    const target = 'model' in type ? p : p.type === 'array' ? p.items : undefined;
    return models[name]?.swagger.includes(refName(target) ?? '') ?? false;
  }
  switch (type) {
    case 'string':
      // VIC declares some handles as a free-form object (go-swagger's interface{}); it sends
      // the handle's string there, as we do.
      return (
        p.type === 'string' || (p.type === 'object' && !p.properties && !p.additionalProperties)
      );
    case 'integer':
      return p.type === 'integer';
    case 'boolean':
      return p.type === 'boolean';
    case 'string[]':
      return p.type === 'array' && p.items?.type === 'string';
    case 'map':
      return (
        p.type === 'object' &&
        typeof p.additionalProperties === 'object' &&
        p.additionalProperties.type === 'string'
      );
  }
}

const typeText = (t: WireType) => (typeof t === 'string' ? t : JSON.stringify(t));

function modelProblems(swagger: Swagger, models: Record<string, ModelSpec>): string[] {
  const problems: string[] = [];
  for (const [name, m] of Object.entries(models)) {
    const entries = Object.entries(m.fields) as [string, FieldSpec][];
    if (m.swagger.length === 0) {
      for (const [f, spec] of entries)
        if (!spec.extension)
          problems.push(`${name}.${f}: a model of ours alone has only extensions`);
      continue;
    }
    for (const def of m.swagger) {
      const props = swagger.definitions[def]?.properties;
      if (!props) {
        problems.push(`${name}: VIC has no definition ${def}`);
        continue;
      }
      for (const [f, spec] of entries) {
        const p = props[f];
        if (spec.extension) {
          if (p) problems.push(`${name}.${f}: marked an extension, but VIC's ${def} has it`);
        } else if (!p) problems.push(`${name}.${f}: VIC's ${def} has no field ${f}`);
        else if (!fits(spec.type, p, models))
          problems.push(
            `${name}.${f}: ${typeText(spec.type)} does not fit VIC's ${def}.${f} (${JSON.stringify(p)})`,
          );
      }
    }
  }
  return problems;
}

describe('the portlayer contract with VIC', () => {
  const swagger = loadSwagger();

  it('reads VIC’s swagger from ../shared/reference beside the repository', () => {
    expect(swagger.paths['/containers/{handle}']?.put?.operationId).toBe('Commit');
  });

  it('uses only routes VIC has, with VIC’s method and operationId', () => {
    expect(routeProblems(swagger, ROUTES)).toEqual([]);
  });

  it('uses only VIC’s fields of VIC’s models, with types that fit; extensions are ours', () => {
    expect(modelProblems(swagger, MODELS)).toEqual([]);
  });

  // The checks themselves: a route or a field renamed away from VIC's API is caught.
  it('catches a renamed route, a changed method, a wrong operationId', () => {
    const drifted = {
      ...ROUTES,
      containerInfo: { ...ROUTES.containerInfo, path: '/containers/inspect/{id}' },
      commit: { ...ROUTES.commit, method: 'POST' as const },
      containerWait: { ...ROUTES.containerWait, operationId: 'Wait' },
    };
    expect(routeProblems(swagger, drifted)).toEqual([
      'route containerInfo: VIC has no GET /containers/inspect/{id}',
      'route commit: VIC has no POST /containers/{handle}',
      "route containerWait: GET /containers/{id}/wait is VIC's ContainerWait, not Wait",
    ]);
    // Parameter names do not matter: VIC's {store_name} is our {store}.
    const renamedParam = { imageJoin: { ...ROUTES.imageJoin, path: '/storage/{store}/info/{x}' } };
    expect(routeProblems(swagger, renamedParam)).toEqual([]);
    // An extension route must be ours alone.
    const mislabeled = { getVolume: { ...ROUTES.getVolume, extension: true as const } };
    expect(routeProblems(swagger, mislabeled)).toEqual([
      'route getVolume: marked an extension, but VIC has GET /storage/volumes/{name}',
    ]);
  });

  it('catches a renamed field, a changed type, an unmarked extension, a mislabeled one', () => {
    const { hostOS, ...vchFields } = MODELS.VCHInfo.fields;
    const drifted: Record<string, ModelSpec> = {
      ...MODELS,
      VCHInfo: { ...MODELS.VCHInfo, fields: { ...vchFields, hostOs: hostOS } },
      TaskBindConfig: {
        ...MODELS.TaskBindConfig,
        fields: { handle: { type: 'string' }, id: { type: 'integer' } },
      },
      ProcessConfig: {
        ...MODELS.ProcessConfig,
        fields: {
          ...MODELS.ProcessConfig.fields,
          reason: { type: 'string' },
          pid: { type: 'integer', extension: true },
        },
      },
    };
    expect(modelProblems(swagger, drifted)).toEqual([
      "VCHInfo.hostOs: VIC's VCHInfo has no field hostOs",
      'TaskBindConfig.id: integer does not fit VIC\'s TaskBindConfig.id ({"type":"string","x-nullable":false})',
      "ProcessConfig.pid: marked an extension, but VIC's ProcessConfig has it",
      "ProcessConfig.reason: VIC's ProcessConfig has no field reason",
    ]);
  });
});
