// mei-agent entry point: `mei-agent <command> [flags]`. Each command is a module loaded on demand,
// exporting `(argv: string[]) => Promise<number>` (the exit code).
import { UsageError } from './usage.ts';

type CommandRunner = (argv: string[]) => Promise<number>;

interface Command {
  summary: string;
  load(): Promise<CommandRunner>;
}

/** The dispatch table: add a command here (the connected agent adds `run`). */
export const COMMANDS: Record<string, Command> = {
  track: {
    summary: 'track people in one video and write MOTChallenge results',
    load: async () => (await import('./track.ts')).runTrackCommand,
  },
  run: {
    summary: 'run as an edge worker: connect to the MEI server and run the cameras it assigns',
    load: async () => (await import('./run.ts')).runAgentCommand,
  },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return ['usage: mei-agent <command> [flags]   (mei-agent <command> --help for its flags)', 'commands:', ...rows].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`mei-agent: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (e) {
    const err = e as Error & { code?: string; field?: string };
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`mei-agent ${name}: ${err.message}\n(mei-agent ${name} --help for usage)`);
      return 2;
    }
    // Model and source errors name the spec field; print them without a stack trace.
    if (err.name === 'ModelError' || err.name === 'SourceError') {
      console.error(`mei-agent ${name}: ${err.message}`);
      return 1;
    }
    throw e;
  }
}
