// Wires the caches to the controllers: any change to a job, its workers, its agents or their reports
// queues that job's key in the controllers that read it. Handlers only enqueue; reconciles do the work.
import type { JobBackend, WorkerRuntime } from '../backends/types.ts';
import { AgentRegistry } from './agent-registry.ts';
import { Controller } from '../controller-runtime/controller.ts';
import { DownstreamController } from './downstream-controller.ts';
import { JobInformer } from '../controller-runtime/job-informer.ts';
import type { Logger } from '../log.ts';
import { MainController } from './main-controller.ts';
import { ReportCache } from '../controller-runtime/report-cache.ts';
import { UpstreamController } from './upstream-controller.ts';
import { WorkerCache } from '../controller-runtime/worker-cache.ts';
import type { MediaPolicy } from '@mei/contracts/media-policy';

export interface ControllerManagerOptions {
  backend: JobBackend;
  runtime: WorkerRuntime;
  mintToken(claims: { jobKey: string; uid: string; node: string }): string;
  serverUrl(): string;
  mediaPolicy?: MediaPolicy;
  log: Logger;
}

export class ControllerManager {
  readonly jobs: JobInformer;
  readonly workers: WorkerCache;
  readonly agents = new AgentRegistry();
  readonly reports = new ReportCache();
  readonly main: Controller;
  readonly downstream: Controller;
  readonly upstream: Controller;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly o: ControllerManagerOptions) {
    const { backend, runtime, log } = o;
    this.jobs = new JobInformer(backend);
    this.workers = new WorkerCache(runtime, log);
    const caches = { jobs: this.jobs, workers: this.workers, agents: this.agents, reports: this.reports };
    this.main = new Controller('main', new MainController({ ...caches, backend, runtime, mintToken: o.mintToken, serverUrl: o.serverUrl, log }), log);
    this.downstream = new Controller('downstream', new DownstreamController({ ...caches, mediaPolicy: o.mediaPolicy, log }), log);
    this.upstream = new Controller('upstream', new UpstreamController({ ...caches, backend, log }), log);
  }

  async start(): Promise<void> {
    const on = (...controllers: Controller[]) => (key: string) => controllers.forEach((c) => c.enqueue(key));
    this.unsubscribe.push(
      this.jobs.onChange(on(this.main, this.downstream, this.upstream)),
      this.workers.onChange(on(this.main, this.upstream)),
      this.agents.onChange(on(this.main, this.downstream, this.upstream)),
      this.reports.onChange(on(this.upstream)),
    );
    for (const c of [this.main, this.downstream, this.upstream]) c.start();
    await this.workers.start();
    await this.jobs.start();
  }

  async stop(): Promise<void> {
    this.unsubscribe.splice(0).forEach((u) => u());
    this.jobs.stop();
    this.workers.stop();
    await Promise.all([this.main.stop(), this.downstream.stop(), this.upstream.stop()]);
  }
}
