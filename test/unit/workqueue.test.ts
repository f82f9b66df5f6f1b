import { describe, expect, it } from 'vitest';
import { Controller } from '../../server/controller-runtime/controller.ts';
import { ExponentialBackoff, WorkQueue } from '../../server/controller-runtime/workqueue.ts';
import { backoffDelay } from '../../server/lib/backoff.ts';
import { silentLogger } from '../../server/log.ts';

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('coalesces repeated adds of a queued key', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands out a key that is being processed; a re-add is queued after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a'); // event while processing
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await tick();
    expect(second).toBeUndefined();
    q.done(key!);
    await tick();
    expect(second).toBe('a');
  });

  it('rate-limited re-adds back off exponentially per key and forget() resets', () => {
    const b = new ExponentialBackoff(10, 1000);
    expect([b.when('k'), b.when('k'), b.when('k'), b.when('k')]).toEqual([10, 20, 40, 80]);
    expect(b.when('other')).toBe(10);
    b.forget('k');
    expect(b.when('k')).toBe(10);
    expect(backoffDelay(40, 10, 1000)).toBe(1000);
  });

  it('addAfter delivers the key later, once', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 20);
    q.addAfter('a', 20);
    expect(q.length).toBe(0);
    await sleep(40);
    expect(q.length).toBe(1);
  });

  it('shutDown releases waiting getters with undefined', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.shutDown();
    expect(await p).toBeUndefined();
  });
});

describe('Controller', () => {
  it('reconciles each key with one worker, retries failures with backoff, honours requeueAfter', async () => {
    const seen: string[] = [];
    let active = 0;
    let maxActive = 0;
    let failures = 2;
    const c = new Controller(
      'test',
      {
        async reconcile(key) {
          active++;
          maxActive = Math.max(maxActive, active);
          seen.push(key);
          await sleep(5);
          active--;
          if (key === 'flaky' && failures-- > 0) throw new Error('transient');
          if (key === 'again' && seen.filter((k) => k === 'again').length === 1) return { requeueAfterMs: 10 };
        },
      },
      silentLogger,
      new ExponentialBackoff(5, 100),
    );
    // Queued before the worker starts: the two adds of 'a' coalesce into one reconcile.
    c.enqueue('a');
    c.enqueue('flaky');
    c.enqueue('again');
    c.enqueue('a');
    c.start();
    await sleep(150);
    await c.stop();
    expect(maxActive).toBe(1);
    expect(seen.filter((k) => k === 'a')).toHaveLength(1);
    expect(seen.filter((k) => k === 'flaky')).toHaveLength(3); // two failures, then success
    expect(seen.filter((k) => k === 'again')).toHaveLength(2);
    expect(c.queue.limiter.retries('flaky')).toBe(0); // forgotten after success
  });
});
