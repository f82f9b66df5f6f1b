// The live view's bookkeeping without sockets: the server's identity roster (who is in which camera now,
// merges, the count for status.identities) and the browser's LiveStore (trails, follow alerts, draw stats).
import { describe, expect, it } from 'vitest';
import type { LiveFrame, LiveTrack } from '@mei/contracts';
import { IdentityRoster } from '../../server/live/identity-roster.ts';
import { LiveStore, TRAIL_LENGTH, identityColor } from '../../app/lib/liveStore.ts';

describe('IdentityRoster', () => {
  it('lists who each camera shows now, forgets cameras gone quiet, and counts identities once across merges', () => {
    const r = new IdentityRoster({ inViewMs: 1_000 });
    r.frame('left', ['P1', 'P2', ''], 0);
    r.frame('right', ['P2'], 0);
    expect(r.dirty).toBe(true);
    let list = r.list('ns/job', 500);
    expect(list.identities.map((i) => [i.id, i.cameras])).toEqual([
      ['P1', ['left']],
      ['P2', ['left', 'right']],
    ]);
    expect(list.total).toBe(2);
    expect(r.dirty).toBe(false);
    r.frame('left', ['P1', 'P2'], 600); // same people: nothing new to tell
    expect(r.dirty).toBe(false);
    r.frame('left', ['P1', 'P3'], 700);
    r.merge('P3', 'P2');
    list = r.list('ns/job', 1_500); // right's last frame (t=0) is too old to count as "now"
    expect(list.merged).toEqual([{ from: 'P3', into: 'P2' }]);
    expect(list.identities.map((i) => [i.id, i.cameras])).toEqual([
      ['P1', ['left']],
      ['P2', ['left']],
    ]);
    expect(list.identities.find((i) => i.id === 'P2')).toMatchObject({ firstSeen: 0, lastSeen: 700 });
    expect(list.total).toBe(2);
    expect(r.list('ns/job', 1_500).merged).toEqual([]);
  });
});

const track = (over: Partial<LiveTrack>): LiveTrack => ({ localId: 1, globalId: 'P1', x: 10, y: 10, w: 20, h: 40, score: 0.9, state: 'confirmed', ...over });
const frame = (camera: string, frameIndex: number, tracks: LiveTrack[]): LiveFrame => ({ jobKey: 'ns/job', camera, frameIndex, timestampMs: frameIndex * 100, emittedAt: 1_000 + frameIndex, width: 400, height: 300, tracks });

describe('LiveStore (browser)', () => {
  it('keeps short trails per identity and counts frames replaced before they were drawn', () => {
    let now = 0;
    const s = new LiveStore(() => now);
    for (let i = 0; i < 30; i++) {
      now = i * 100;
      s.frame(frame('left', i, [track({ x: i })]));
    }
    const trail = s.view('left').trails.get('P1')!;
    expect(trail.points).toHaveLength(TRAIL_LENGTH);
    expect(trail.points.at(-1)).toEqual({ x: 29 + 10, y: 50 });
    expect(s.counters).toMatchObject({ received: 30, skippedInBrowser: 29 });
    const v = s.view('left');
    s.markDrawn('left', v, true, 1_000 + 29 + 12);
    expect(s.stats().latencies()).toEqual([12]);
    s.frame(frame('left', 30, [track({ globalId: '', localId: 7 })]));
    expect(s.view('left').trails.has('#7')).toBe(true);
  });

  it('alerts when the followed identity appears in another camera, and follows it through a merge', () => {
    let now = 0;
    const s = new LiveStore(() => now);
    const alerts: string[] = [];
    s.onAlert((a) => alerts.push(`${a.id}:${a.from}->${a.camera}`));
    s.setIdentities({ jobKey: 'ns/job', identities: [{ id: 'P4', cameras: ['left'], lastSeen: 0, firstSeen: 0 }], total: 1, merged: [] });
    s.follow('P4');
    s.frame(frame('left', 1, [track({ globalId: 'P4' })]));
    now = 500;
    s.frame(frame('right', 1, [track({ globalId: 'P9' })]));
    expect(alerts).toEqual([]);
    now = 1_000;
    s.frame(frame('right', 2, [track({ globalId: 'P4' })]));
    now = 1_100;
    s.frame(frame('right', 3, [track({ globalId: 'P4' })])); // still there: no second alert
    expect(alerts).toEqual(['P4:left->right']);
    s.setIdentities({ jobKey: 'ns/job', identities: [], total: 1, merged: [{ from: 'P4', into: 'P2' }] });
    expect(s.following).toBe('P2');
    expect(s.view('right').trails.has('P2')).toBe(true);
    expect(s.view('right').trails.has('P4')).toBe(false);
  });

  it('gives identities stable, distinct colours', () => {
    expect(identityColor('P3')).toBe(identityColor('P3'));
    expect(new Set(['P1', 'P2', 'P3', 'P4', 'P5'].map(identityColor)).size).toBe(5);
  });
});
