// Next.js config for the MEI dashboard. The app runs inside MEI's own server (server/main.ts), which
// also carries Socket.IO and the control plane; route handlers reach those through globalThis.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.NEXT_TELEMETRY_DISABLED = '1'; // never phone home, whoever starts Next

const root = path.dirname(fileURLToPath(import.meta.url));
// A side build directory (MEI_NEXT_DIST_DIR, used by the integration test) lets a second server run next
// to a developer's: Next locks its build directory per dev server.
const distDir = process.env.MEI_NEXT_DIST_DIR || '.next';

/**
 * Next adds its build directory's type paths to the tsconfig it uses. For a side directory, hand it a
 * tsconfig next to that directory (extending the real one) so the repository's tsconfig.json stays as is.
 * (Not inside it: Turbopack does not read files in its own build directory.)
 */
function sideTsconfig(dir) {
  const file = path.join(root, `${dir}.tsconfig.json`);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    const up = path.relative(path.dirname(file), root);
    const include = ['next-env.d.ts', '**/*.ts', '**/*.tsx'].map((p) => path.join(up, p));
    writeFileSync(file, JSON.stringify({ extends: path.join(up, 'tsconfig.json'), include, exclude: [path.join(up, 'node_modules')] }, null, 2));
  }
  return path.relative(root, file);
}

/** @type {import('next').NextConfig} */
const nextConfig = {
  // contracts/ and vision/ ship TypeScript source (imports with .ts extensions).
  transpilePackages: ['@mei/contracts', '@mei/vision'],
  // Native or heavy server-only packages: loaded by Node at run time, never bundled.
  serverExternalPackages: ['@prisma/client', 'prisma', '@electric-sql/pglite', 'pglite-prisma-adapter', 'onnxruntime-node', '@kubernetes/client-node'],
  distDir,
  // `npm test` type-checks the whole tree once (tsc); the dashboard build need not do it again.
  typescript: { ignoreBuildErrors: true, ...(distDir !== '.next' ? { tsconfigPath: sideTsconfig(distDir) } : {}) },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
