// The connected edge agent's task handling with a fake transport and fake camera runners (mock: no server,
// no video); the same agent over real sockets is in test/unit/realtime-agent.test.ts and the integration test.
import { describe, expect, it } from 'vitest';
import { decodeObservations, type Ack, type CameraReport, type ObservationBatch, type TaskAssignmentInput } from '@mei/contracts';
import { EdgeAgent } from '../../edge-agent/src/agent/agent.ts';
import type { CameraRunner, CameraRunnerContext } from '../../edge-agent/src/agent/camera-runner.ts';
import { runAgentCommand } from '../../edge-agent/src/cli/run.ts';

class FakeTransport {
  connected = true;
  readonly sent: Array<{ event: string; payload: any }> = [];
  async send(event: string, payload: unknown): Promise<Ack> {
    this.sent.push({ event, payload });
    return { ok: true };
  }
  of(event: string) {
    return this.sent.filter((s) => s.event === event).map((s) => s.payload);
  }
}

class ScriptedRunner implements CameraRunner {
  readonly camera: string;
  state: CameraReport['state'] = 'Pending';
  starts = 0;
  stops = 0;
  constructor(readonly ctx: CameraRunnerContext) {
    this.camera = ctx.camera.name;
  }
  async start() {
    this.starts++;
    this.state = 'Streaming';
  }
  async stop() {
    this.stops++;
  }
  report(): CameraReport {
    return { name: this.camera, state: this.state };
  }
  finish(state: 'Completed' | 'Failed') {
    this.state = state;
    this.ctx.onChange();
  }
}

function setup(node = 'edge-1') {
  const transport = new FakeTransport();
  const runners: ScriptedRunner[] = [];
  const agent = new EdgeAgent({ node, transport, runners: (ctx) => (runners.push(new ScriptedRunner(ctx)), runners.at(-1)!), heartbeatMs: 60_000 });
  return { transport, runners, agent };
}

const task = (over: Partial<TaskAssignmentInput> = {}): TaskAssignmentInput => ({
  jobKey: 'default/job',
  uid: 'uid-1',
  generation: 1,
  node: 'edge-1',
  mode: 'live',
  cameras: [
    { name: 'a', node: 'edge-1', source: '/a.mp4' },
    { name: 'b', node: 'edge-1', source: '/b.mp4' },
  ],
  models: { detector: { decoder: 'yolox' } },
  ...over,
});

describe('edge agent (fake transport, fake camera runners)', () => {
  it('acknowledges a task, starts one runner per camera, and treats a resend as a no-op', async () => {
    const { transport, runners, agent } = setup();
    await agent.handleTask(task());
    await agent.handleTask(task());
    expect(runners.map((r) => [r.camera, r.starts])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(transport.of('task:ack')).toEqual([
      { jobKey: 'default/job', uid: 'uid-1', generation: 1 },
      { jobKey: 'default/job', uid: 'uid-1', generation: 1 },
    ]);
    await agent.shutdown('test');
  });

  it('ignores a task for another node (no ack)', async () => {
    const { transport, runners, agent } = setup('edge-2');
    await agent.handleTask(task());
    expect(runners).toHaveLength(0);
    expect(transport.of('task:ack')).toHaveLength(0);
    await agent.shutdown('test');
  });

  it('task:stop stops the runners, sends a final Stopped state and finishes with exit code 0', async () => {
    const { transport, runners, agent } = setup();
    await agent.handleTask(task());
    await agent.handleStop({ jobKey: 'default/job', uid: 'other-uid', reason: 'not ours' });
    expect(runners.every((r) => r.stops === 0)).toBe(true);
    await agent.handleStop({ jobKey: 'default/job', uid: 'uid-1', reason: 'job deleted' });
    expect(await agent.finished).toBe(0);
    expect(runners.every((r) => r.stops === 1)).toBe(true);
    expect(transport.of('state').at(-1)).toMatchObject({ phase: 'Stopped', message: 'job deleted', cameras: [{ name: 'a' }, { name: 'b' }] });
  });

  it('history: finishes when every camera completed (0), or with 1 when one failed', async () => {
    for (const [outcome, code, phase] of [['Completed', 0, 'Succeeded'], ['Failed', 1, 'Failed']] as const) {
      const { transport, runners, agent } = setup();
      await agent.handleTask(task({ mode: 'history' }));
      runners[0].finish('Completed');
      runners[1].finish(outcome);
      expect(await agent.finished).toBe(code);
      expect(transport.of('state').at(-1)).toMatchObject({ phase });
    }
  });

  it('a new generation restarts only the cameras whose settings changed', async () => {
    const { runners, agent } = setup();
    await agent.handleTask(task());
    await agent.handleTask(task({ generation: 2, cameras: [{ name: 'a', node: 'edge-1', source: '/a.mp4' }, { name: 'c', node: 'edge-1', source: '/c.mp4' }] }));
    expect(runners.map((r) => [r.camera, r.starts, r.stops])).toEqual([
      ['a', 1, 0],
      ['b', 1, 1],
      ['c', 1, 0],
    ]);
    await agent.shutdown('test');
  });

  it('numbers observation batches per camera so a restarted agent never reuses a sequence number', async () => {
    const { transport, runners, agent } = setup();
    await agent.handleTask(task());
    const batch: Omit<ObservationBatch, 'jobKey' | 'seq'> = { camera: 'a', frames: [{ frameIndex: 0, timestampMs: 0, emittedAt: 1, width: 10, height: 10, tracks: [] }] };
    const before = Date.now() * 1000;
    runners[0].ctx.emitObservations(batch);
    runners[0].ctx.emitObservations(batch);
    await expect.poll(() => transport.of('observations').length).toBe(2);
    // Sent as spooled: protocol-2 bytes.
    const sent = transport.of('observations').map((b) => decodeObservations(b));
    expect(sent[1].seq).toBe(sent[0].seq + 1);
    expect(sent[0].seq).toBeGreaterThanOrEqual(before);
    expect(sent[0].jobKey).toBe('default/job');
    await agent.shutdown('test');
  });
});

describe('mei-agent run flags', () => {
  it('names the missing or bad flag', async () => {
    const env = { MEI_AGENT_TOKEN: 't' } as unknown as NodeJS.ProcessEnv;
    await expect(runAgentCommand(['--node', 'edge-1'], { env, forceExit: false })).rejects.toThrow(/--server must be an http\(s\) URL/);
    await expect(runAgentCommand(['--server', 'http://127.0.0.1:1', '--node', 'Bad_Node'], { env, forceExit: false })).rejects.toThrow(/--node must be a node name/);
    await expect(runAgentCommand(['--server', 'http://127.0.0.1:1', '--node', 'edge-1', '--spool-bytes', '1000'], { env, forceExit: false })).rejects.toThrow(/--spool-bytes .* must be an integer >= 131072, got '1000'/);
    await expect(runAgentCommand(['--server', 'http://127.0.0.1:1', '--node', 'edge-1'], { env: {} as NodeJS.ProcessEnv, forceExit: false })).rejects.toThrow(/MEI_AGENT_TOKEN/);
    await expect(runAgentCommand(['--server', 'http://127.0.0.1:1', '--node', 'edge-1', '--token-file', '/nonexistent/token'], { env: {} as NodeJS.ProcessEnv, forceExit: false })).rejects.toThrow(/--token-file/);
  });
});
