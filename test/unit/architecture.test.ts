// The shape docs/architecture.md promises, checked on the source: packages depend one way
// (contracts <- vision <- edge-agent, server; tools apart), the server never reaches into the agent, and
// the server's capability folders import each other without cycles.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SPEC = /(?:\bfrom|\bimport)\s*\(?\s*['"]([^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|tsx|mjs)$/.test(name)) out.push(rel);
  }
  return out;
}

/** Every import of `file`, as a repository path (relative specifiers) or a package specifier. */
function importsOf(file: string): string[] {
  // Comments may mention paths; only code counts.
  const text = readFileSync(path.join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
  return [...text.matchAll(SPEC)].map(([, s]) => (s.startsWith('.') ? path.normalize(path.join(path.dirname(file), s)) : s));
}

const PACKAGE_OF: Array<[string, string]> = [
  ['contracts/', '@mei/contracts'],
  ['vision/', '@mei/vision'],
  ['edge-agent/', '@mei/edge-agent'],
  ['tools/', '@mei/tools'],
  ['server/', 'server'],
];
const packageOf = (target: string): string | undefined => {
  for (const [dir, name] of PACKAGE_OF) if (target.startsWith(dir) || target === name || target.startsWith(`${name}/`)) return name;
  return undefined;
};

/** Which package may import which (absent = none of ours). */
const ALLOWED: Record<string, string[]> = {
  '@mei/contracts': [],
  '@mei/vision': ['@mei/contracts'],
  '@mei/edge-agent': ['@mei/contracts', '@mei/vision'],
  '@mei/tools': ['@mei/contracts', '@mei/vision'],
  server: ['@mei/contracts', '@mei/vision'],
};

describe('architecture', () => {
  for (const [dir, name] of PACKAGE_OF) {
    it(`${name} imports only ${ALLOWED[name].join(', ') || 'no other package of ours'}`, () => {
      const bad: string[] = [];
      for (const file of sourceFiles(dir)) {
        if (name !== 'server' && /\/(test|bench)\//.test(`/${file}`)) continue; // a package's own tests may use the harness
        for (const target of importsOf(file)) {
          const pkg = packageOf(target);
          if (pkg && pkg !== name && !ALLOWED[name].includes(pkg)) bad.push(`${file} -> ${target}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it("the server's capability folders import each other without cycles", () => {
    // Node = first folder under server/ (a top-level file is its own node).
    const nodeOf = (file: string) => file.split(path.sep).slice(0, 2).join('/');
    const edges = new Map<string, Map<string, string>>();
    for (const file of sourceFiles('server')) {
      for (const target of importsOf(file)) {
        if (!target.startsWith(`server${path.sep}`)) continue;
        const [a, b] = [nodeOf(file), nodeOf(target)];
        if (a === b) continue;
        if (!edges.has(a)) edges.set(a, new Map());
        if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, `${file} -> ${target}`);
      }
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (n: string) => {
      state.set(n, 'open');
      stack.push(n);
      for (const [m, why] of edges.get(n) ?? []) {
        if (state.get(m) === 'open') cycles.push(`${[...stack.slice(stack.indexOf(m)), m].join(' -> ')} (closing edge: ${why})`);
        else if (!state.has(m)) visit(m);
      }
      stack.pop();
      state.set(n, 'done');
    };
    for (const n of [...edges.keys()].sort()) if (!state.has(n)) visit(n);
    expect(cycles).toEqual([]);
  });
});
