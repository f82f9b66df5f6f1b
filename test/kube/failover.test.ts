// Failover without loss (issue #14, part 3) on the real kube-apiserver: server replicas sharing PostgreSQL and
// the signing secret, agents behind a Service stand-in that routes to the labelled, ready replica; the leader
// SIGKILLed under load, the next one partitioned from the apiserver, a rolling update (failover.ts). Asserted on
// recorded facts only: order of events, sets of batches, stored history — never how fast.
import { describe, expect, it } from 'vitest';
import { runFailover } from './failover.ts';
import { useKube } from './cluster.ts';

const kube = useKube();

describe('failover without loss (real apiserver, PostgreSQL, server and agent processes)', () => {
  it('SIGKILL of the leader, a leader cut off from the apiserver, a rolling update: nothing refused, lost or doubled', async () => {
    const r = await runFailover({ kubeconfigPath: kube().kubeconfigPath });
    const { agentOutput, ...facts } = r;
    console.log(`[failover] ${JSON.stringify({ ...facts, lost: r.lost.length, duplicated: r.duplicated.length, unexpected: r.unexpected.length, historyProblems: r.historyProblems.length })}`);
    const context = `${JSON.stringify(facts).slice(0, 4000)}\n${agentOutput}`;

    // Every produced batch committed exactly once, applied, in seq order per stream; none refused.
    expect(r.produced, context).toBeGreaterThan(0);
    expect(r.lost, context).toEqual([]);
    expect(r.duplicated, context).toEqual([]);
    expect(r.unexpected, context).toEqual([]);
    expect(r.seqGaps, context).toBe(0);
    expect(r.unapplied, context).toBe(0);
    expect(r.refused, context).toEqual([]);
    // History continuous: one track per scripted person and camera, spanning what was produced, no gap, no double.
    expect(r.tracks, context).toBe(r.expectedTracks);
    expect(r.historyProblems, context).toEqual([]);

    // Tokens and sessions signed before the failovers stay valid: no agent was refused or gave up, the
    // browser session opened /ui on every leader.
    expect(r.authRefusals, context).toEqual([]);
    expect(r.deadAgents, context).toEqual([]);
    expect(r.sessions).toEqual([true, true, true, true]);

    // SIGKILL: another replica took over; the killed one came back as a standby (not ready in /readyz).
    expect(r.sigkill.newLeader).not.toBe(r.sigkill.killed);
    expect(r.sigkill.restartedIsStandby).toBe(true);

    // Partition: the cut-off leader turned unready and shut down (stopped serving) because it lost the lease,
    // both before another replica took the lease (its acquireTime); the Service never listed it again once it was
    // unready, nor routed a connection to it after the takeover.
    const p = r.partition;
    expect(p.newLeader).not.toBe(p.cutOff);
    expect(p.unreadyAfterMs, context).toBeDefined();
    expect(p.unreadyAfterMs!).toBeLessThan(p.leaseTakenAfterMs);
    expect(p.shutdownWhy).toBe('lost the leader lease');
    expect(p.shutdownAfterMs, context).toBeDefined();
    expect(p.shutdownAfterMs!).toBeLessThan(p.leaseTakenAfterMs);
    expect(p.listedAfterUnready.filter((e) => e.includes(p.cutOff))).toEqual([]);
    expect(p.routedToItAfterTakeover).toBe(0);

    // Rolling update: the stopped leader released the lease and exited 0; a new replica leads at the end.
    expect(r.rolling.map((s) => s.exit)).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    expect(r.rolling[0].wasLeader).toBe(true);
    expect(r.leaderAtEnd).toMatch(/^mei-new-/);
    // No stale label: only the lease holder carries it (also checked after every failover: leaderServes).
    expect(r.labelledAtEnd).toEqual([r.leaderAtEnd]);
  }, 1_500_000);
});
