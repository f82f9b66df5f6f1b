// The in-memory JobBackend the controller, API and live-view unit tests run on, held to the conformance suite
// the real backends pass (test/support/job-backend-suite.ts), so a unit test cannot pass on behaviour that the
// embedded store or the kube-apiserver would not show.
import type { JobBackend } from '../../server/backends/types.ts';
import { jobBackendSuite } from '../support/job-backend-suite.ts';
import { MemoryBackend, MemoryStore } from '../support/memory-backend.ts';

let store = new MemoryStore();
const opened: JobBackend[] = [];
let n = 0;

jobBackendSuite('the in-memory fake', {
  caps: { durable: false, generationOnDelete: false },
  async open(options = {}) {
    const b = new MemoryBackend(store, options);
    opened.push(b);
    return b;
  },
  async close() {
    for (const b of opened.splice(0)) await b.close();
    store = new MemoryStore(); // nothing outlives the process
  },
  async namespace() {
    return `m${++n}`;
  },
});
