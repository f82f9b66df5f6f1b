// Flag parsing shared by the benchmark scripts: a numeric flag is checked against its range and a bad
// value names the flag (the caller prints usage and exits 2).

import { parseArgs } from 'node:util';

export class FlagError extends Error {}

/** The numeric value of `flag` (raw string `v`), `def` when absent; FlagError when outside [min, max]. */
export function numberFlag<D extends number | undefined>(v: string | undefined, flag: string, def: D, min: number, max: number, integer = false): number | D {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new FlagError(`${flag} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got '${v}'`);
  }
  return n;
}

/** Runs a benchmark's main: a FlagError is printed with the usage (exit 2), any other error exits 1. */
export function runBench(main: () => Promise<void>, usage: string): void {
  main().catch((err) => {
    if (err instanceof FlagError) {
      console.error(`${err.message}\n${usage}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  });
}

type Options = NonNullable<import('node:util').ParseArgsConfig['options']>;
const JSON_FLAG = { json: { type: 'boolean', default: false } } as const;

/** The script's command-line flags (strict: an unknown flag throws), with every benchmark's `--json`. */
export function benchFlags<const O extends Options>(options: O) {
  return parseArgs({ args: process.argv.slice(2), strict: true, options: { ...JSON_FLAG, ...options } }).values;
}
