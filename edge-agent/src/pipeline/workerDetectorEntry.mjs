// Entry of a detector worker thread (see workerDetector.ts). Plain JavaScript so the thread starts whatever
// loader the parent runs under (node --import tsx, the mei-agent bin, vitest): it registers tsx itself.
import { register } from 'tsx/esm/api';

register();
await import('./workerDetectorThread.ts');
