// Reads the final stage of a Containerfile (ENV, USER, WORKDIR, EXPOSE, ENTRYPOINT, CMD) and prints the
// matching `umoci config` flags, one per line: the chroot build of scripts/build-images.sh gives its images the
// configuration the Containerfile declares, so the two builds cannot drift.
//   node deploy/images/containerfile-config.mjs deploy/images/server.Containerfile
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: containerfile-config.mjs FILE');
  process.exit(2);
}
// Join continuation lines, drop comments, keep the instructions after the last FROM.
const lines = readFileSync(file, 'utf8')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const final = lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)) + 1);
const flags = [];
for (const line of final) {
  const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
  switch (op?.toUpperCase()) {
    case 'ENV':
      for (const kv of rest.split(/\s+/)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*=\S*$/.test(kv)) throw new Error(`${file}: ENV takes KEY=VALUE pairs without spaces or quotes, got "${kv}"`);
        flags.push(`--config.env=${kv}`);
      }
      break;
    case 'USER':
      flags.push(`--config.user=${rest}`);
      break;
    case 'WORKDIR':
      flags.push(`--config.workingdir=${rest}`);
      break;
    case 'EXPOSE':
      for (const p of rest.split(/\s+/)) flags.push(`--config.exposedports=${p.includes('/') ? p : `${p}/tcp`}`);
      break;
    case 'ENTRYPOINT':
    case 'CMD': {
      const argv = JSON.parse(rest);
      if (!Array.isArray(argv)) throw new Error(`${file}: ${op} must be a JSON array`);
      flags.push(`--clear=config.${op.toLowerCase()}`, ...argv.map((a) => `--config.${op.toLowerCase()}=${a}`));
      break;
    }
    default: // RUN, COPY: carried out by the build itself
  }
}
console.log(flags.join('\n'));
