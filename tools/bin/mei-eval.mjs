#!/usr/bin/env node
// mei-eval <gt.txt> <res.txt> [--json]: MOTChallenge metrics (CLEAR MOT, IDF1, HOTA) of a results file.
import { register } from 'tsx/esm/api';

register();
const { runEvalCommand } = await import('../src/cli/eval.ts');
process.exitCode = runEvalCommand(process.argv.slice(2));
