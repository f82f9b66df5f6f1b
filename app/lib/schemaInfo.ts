// Looks up a field of the CRD schema by its path (`spec.cameras[0].fps`), so the form can show the
// schema's own description as help text and its bounds on number inputs: one source for both.
import type { JSONSchema } from '@mei/contracts';

export function schemaAt(root: JSONSchema | undefined, path: string): JSONSchema | undefined {
  let cur: JSONSchema | undefined = root;
  for (const part of path.split('.')) {
    if (!cur) return undefined;
    const m = /^([^[\]]+)((\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    cur = cur.properties?.[m[1]];
    const indexes = m[2] ? m[2].match(/\[\d+\]/g)!.length : 0;
    for (let i = 0; i < indexes && cur; i++) cur = cur.items;
  }
  return cur;
}

export interface NumberBounds {
  min?: number;
  max?: number;
  step?: number | 'any';
}

export function numberBounds(s: JSONSchema | undefined): NumberBounds {
  if (!s) return {};
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return { min: num(s.minimum), max: num(s.maximum), step: s.type === 'integer' ? 1 : 'any' };
}
