// The OpenAPI 3.0 document of the HTTP API, generated from the route table and zod schemas in http.ts
// (served at GET /api/openapi.json). The job body and responses refer to the CRD's own openAPIV3Schema, so
// the document and kube-apiserver describe a job alike.
import { z } from 'zod';
import { ignoreOverride, zodToJsonSchema } from 'zod-to-json-schema';
import { SESSION_COOKIE } from './api.ts';
import {
  ApiErrorSchema,
  JobInputSchema,
  JobSchema,
  MeSchema,
  PersonSearchResponseSchema,
  StoredTrackSchema,
  TrackDetailSchema,
  TrackListSchema,
  ValidationFailureSchema,
  httpRoutes,
  type HttpRoute,
} from './http.ts';
import type { JSONSchema } from './validation.ts';

type Json = Record<string, unknown>;

/** Schemas written once under components.schemas and referred to by name. */
const COMPONENTS: Record<string, z.ZodTypeAny> = {
  ApiError: ApiErrorSchema,
  ValidationFailure: ValidationFailureSchema,
  Me: MeSchema,
  StoredTrack: StoredTrackSchema,
  TrackList: TrackListSchema,
  TrackDetail: TrackDetailSchema,
  PersonSearchResponse: PersonSearchResponseSchema,
};
const JOB_COMPONENT = 'MultiEdgeInference';

function converter() {
  const names = new Map<z.ZodTypeDef, string>(Object.entries(COMPONENTS).map(([n, s]) => [s._def, n]));
  // A job to create and a stored job: the CRD's schema.
  names.set(JobSchema._def, JOB_COMPONENT);
  names.set(JobInputSchema._def, JOB_COMPONENT);
  /** JSON schema of `schema` (OpenAPI 3.0 dialect), naming components by $ref except `self`. */
  const toJson = (schema: z.ZodTypeAny, self?: z.ZodTypeAny): Json => {
    const out = zodToJsonSchema(schema, {
      target: 'openApi3',
      $refStrategy: 'none',
      effectStrategy: 'input',
      pipeStrategy: 'input',
      // Only .strict() objects refuse unknown keys; the others (responses) may grow fields.
      removeAdditionalStrategy: 'strict',
      override: (def) => {
        const name = names.get(def);
        if (name && def !== self?._def) return { $ref: `#/components/schemas/${name}` };
        // OpenAPI 3.0 has no tuples (array-valued `items`): an array of the item type with a fixed length.
        if ((def as { typeName?: string }).typeName === z.ZodFirstPartyTypeKind.ZodTuple) return tuple(def as z.ZodTupleDef, (s) => toJson(s));
        return ignoreOverride;
      },
    }) as Json;
    delete out.$schema;
    return unwrapOptional(out);
  };
  return toJson;
}

function tuple(def: z.ZodTupleDef, toJson: (s: z.ZodTypeAny) => Json): Json {
  const items = def.items.map((i) => toJson(i));
  const same = items.every((i) => JSON.stringify(i) === JSON.stringify(items[0]));
  return { type: 'array', items: same ? items[0] : { anyOf: items }, minItems: items.length, maxItems: items.length, ...(def.description ? { description: def.description } : {}) };
}

/** An optional inside a preprocess comes out as anyOf [{not: {}}, X]: X (optionality is `required` here). */
function unwrapOptional(s: unknown): Json {
  if (Array.isArray(s)) return s.map(unwrapOptional) as unknown as Json;
  if (!s || typeof s !== 'object') return s as Json;
  const o = s as Json;
  const any = o.anyOf as Json[] | undefined;
  if (any?.length === 2) {
    const rest = any.filter((a) => !(a.not && typeof a.not === 'object' && !Object.keys(a.not).length));
    if (rest.length === 1) {
      const { anyOf: _drop, ...others } = o;
      return unwrapOptional({ ...rest[0], ...others });
    }
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, unwrapOptional(v)]));
}

/** Moves a parameter schema's description onto the parameter (where OpenAPI tools show it). */
function parameters(where: 'path' | 'query', schema: z.ZodTypeAny | undefined, toJson: (s: z.ZodTypeAny) => Json): Json[] {
  if (!schema) return [];
  let s = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  if (!(s instanceof z.ZodObject)) throw new Error(`${where} schema must be an object`);
  return Object.entries(s.shape as Record<string, z.ZodTypeAny>).map(([name, field]) => {
    const { description, ...fieldSchema } = toJson(field);
    const isArray = fieldSchema.type === 'array';
    return {
      name,
      in: where,
      required: where === 'path' || !field.isOptional(),
      ...(description ? { description } : {}),
      schema: fieldSchema,
      // Lists in a query: comma-separated (`cameras=a,b`); repeating the parameter works too.
      ...(isArray ? { style: 'form', explode: false } : {}),
    };
  });
}

function requestBody(body: NonNullable<HttpRoute['body']>, toJson: (s: z.ZodTypeAny) => Json): Json {
  const description = `At most ${body.maxBytes} bytes (413 beyond).`;
  if (body.type === 'application/json') return { required: true, description, content: { 'application/json': { schema: toJson(body.schema) } } };
  const fields = toJson(body.fields) as { properties?: Json; required?: string[] };
  const schema = {
    type: 'object',
    properties: { [body.file.name]: { type: 'string', format: 'binary', description: body.file.description }, ...fields.properties },
    required: [body.file.name, ...(fields.required ?? [])],
    additionalProperties: false,
  };
  return { required: true, description, content: { 'multipart/form-data': { schema } } };
}

function operation(name: string, r: HttpRoute, toJson: (s: z.ZodTypeAny) => Json): Json {
  const responses: Json = {};
  for (const [status, spec] of Object.entries(r.responses)) {
    const content = spec.schema ? { 'application/json': { schema: toJson(spec.schema) } } : spec.type ? { [spec.type]: { schema: { type: 'string', format: 'binary' } } } : undefined;
    responses[status] = { description: spec.description, ...(content ? { content } : {}) };
  }
  const notes = [r.sameOrigin ? 'Refuses a cross-site Origin header (403).' : '', r.auth === 'session' ? 'Needs the session cookie.' : 'Open: no session needed.'].filter(Boolean);
  return {
    operationId: name,
    summary: r.summary,
    description: notes.join(' '),
    tags: [r.path.split('/')[2]],
    security: r.auth === 'session' ? [{ session: [] }] : [],
    ...(r.sameOrigin ? { 'x-mei-same-origin': true } : {}),
    parameters: [...parameters('path', r.params, toJson), ...parameters('query', r.query, toJson)],
    ...(r.body ? { requestBody: requestBody(r.body, toJson) } : {}),
    responses,
  };
}

/**
 * The document. `jobSchema` is the CRD's openAPIV3Schema (loadJobSchema(), or ApiContext.jobSchema): the
 * MultiEdgeInference component; without it the component is a plain object.
 */
export function openApiDocument(o: { version: string; jobSchema?: JSONSchema }): Json {
  const toJson = converter();
  const paths: Record<string, Json> = {};
  for (const [name, r] of Object.entries(httpRoutes) as Array<[string, HttpRoute]>) {
    (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(name, r, toJson);
  }
  const schemas: Json = Object.fromEntries(Object.entries(COMPONENTS).map(([n, s]) => [n, toJson(s, s)]));
  schemas[JOB_COMPONENT] = o.jobSchema ?? { type: 'object', description: 'A MultiEdgeInference (see GET /api/schema).' };
  return {
    openapi: '3.0.3',
    info: {
      title: 'MEI dashboard API',
      version: o.version,
      description: 'Cross-camera person tracking on edge nodes (KubeEdge Sedna MultiEdgeInference). Every refusal is an ApiError whose `field` names the parameter or body field at fault.',
    },
    servers: [{ url: '/' }],
    components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } }, schemas },
    paths,
  };
}
