// Rules about live tracks and global identities that the server and the browser share, in ONE place.
import type { TrackState } from './events.ts';

/** A track drawn and counted as present: matched in this frame (tentative or confirmed), not lost/removed. */
export function isVisible(state: TrackState): boolean {
  return state === 'tentative' || state === 'confirmed';
}

/**
 * Global identity `from` was merged into `into`: in a map keyed by identity, `from`'s entry moves to `into`
 * unless `into` has one at least as new (`at`); the other is dropped. `relabel` rewrites a moved entry (e.g.
 * its identity field). A moved entry is re-inserted, so it is the newest in the map's insertion order.
 * Returns undefined when nothing was under `from`.
 */
export function mergeNewer<V>(map: Map<string, V>, from: string, into: string, at: (v: V) => number, relabel: (v: V) => V = (v) => v): { kept: V; dropped?: V; moved: boolean } | undefined {
  if (from === into) return undefined;
  const a = map.get(from);
  if (a === undefined) return undefined;
  map.delete(from);
  const b = map.get(into);
  if (b !== undefined && at(b) >= at(a)) return { kept: b, dropped: a, moved: false };
  const kept = relabel(a);
  map.delete(into);
  map.set(into, kept);
  return { kept, dropped: b, moved: true };
}
