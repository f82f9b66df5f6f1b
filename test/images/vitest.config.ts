// The image smoke test (test/images/images.test.ts): `npm run images` first, then `npm run test:images`.
// Not part of `npm test`: it unpacks two images and tracks a whole video inside one.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/images/**/*.test.ts'],
    pool: 'forks',
    // Ceilings only bound a hang (docs/testing.md).
    testTimeout: 1_800_000,
    hookTimeout: 900_000,
  },
});
