'use client';
// The live view's socket side: joins the job's live room on the shared /ui socket (again after every
// reconnect), feeds frames, previews and identity lists into a LiveStore, person crops into a
// ThumbnailStore, and acknowledges each message on receipt (the server sends the next one for that camera
// or identity only then: a busy tab gets fewer, newer frames).
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { LiveFrame, LiveIdentities, LivePreview, LiveThumbnail } from '@mei/contracts';
import type { LiveStatus } from './hooks';
import { LiveStore, type FollowAlert } from './liveStore';
import { ThumbnailStore, type IdentityThumb } from './liveThumbnails';
import { acquireUiSocket, releaseUiSocket, type UiSocket } from './socket';

declare global {
  interface Window {
    /** The live view's store, for tests and the latency benchmark (frames, stats). */
    __meiLive?: LiveStore;
  }
}

export interface LiveFeed {
  store: LiveStore;
  /** Newest person crop per identity (privacy.preview 'thumbnails' or 'live'). */
  thumbs: ThumbnailStore;
  status: LiveStatus;
  error?: string;
  /** Asks the camera's agent for one still frame (privacy.preview 'snapshot'); resolves with the error, if any. */
  snapshot(camera: string): Promise<string | undefined>;
}

export function useLiveFeed(jobKey: string): LiveFeed {
  const [store] = useState(() => new LiveStore());
  const [thumbs] = useState(() => new ThumbnailStore());
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [error, setError] = useState<string>();
  const socketRef = useRef<UiSocket | undefined>(undefined);

  useEffect(() => {
    window.__meiLive = store;
    const socket = acquireUiSocket();
    socketRef.current = socket;
    const subscribe = () =>
      socket.emit('live:subscribe', { jobKey }, (ack) => {
        if (ack && !ack.ok) setError(ack.error);
        else setError(undefined);
      });
    const onConnect = () => {
      setStatus('live');
      subscribe();
    };
    const onDisconnect = () => setStatus('offline');
    const onConnectError = (err: Error) => {
      setStatus('offline');
      setError(err.message);
    };
    const onFrame = (f: LiveFrame, ack?: () => void) => {
      ack?.();
      if (f.jobKey === jobKey) store.frame(f);
    };
    // Decodes finish out of order; only the newest request per camera may land.
    const previewSeq = new Map<string, number>();
    const onPreview = (p: LivePreview, ack?: () => void) => {
      ack?.();
      if (p.jobKey !== jobKey) return;
      const seq = (previewSeq.get(p.camera) ?? 0) + 1;
      previewSeq.set(p.camera, seq);
      createImageBitmap(new Blob([p.jpeg as ArrayBuffer], { type: 'image/jpeg' })).then(
        (bitmap) => (previewSeq.get(p.camera) === seq ? store.preview(p.camera, bitmap, p.frameIndex, p.emittedAt) : bitmap.close()),
        () => {}, // a broken JPEG: keep the previous picture
      );
    };
    const onIdentities = (m: LiveIdentities, ack?: () => void) => {
      ack?.();
      if (m.jobKey !== jobKey) return;
      for (const { from, into } of m.merged) thumbs.merge(from, into);
      store.setIdentities(m);
    };
    const onThumbnail = (t: LiveThumbnail, ack?: () => void) => {
      ack?.();
      if (t.jobKey === jobKey) thumbs.put(t);
    };
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.on('connect_error', onConnectError);
    socket.on('live:frame', onFrame);
    socket.on('live:preview', onPreview);
    socket.on('live:identities', onIdentities);
    socket.on('live:thumbnail', onThumbnail);
    if (socket.connected) onConnect();
    return () => {
      if (socket.connected) socket.emit('live:unsubscribe', { jobKey });
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      socket.off('connect_error', onConnectError);
      socket.off('live:frame', onFrame);
      socket.off('live:preview', onPreview);
      socket.off('live:identities', onIdentities);
      socket.off('live:thumbnail', onThumbnail);
      socketRef.current = undefined;
      releaseUiSocket();
      if (window.__meiLive === store) delete window.__meiLive;
      store.dispose();
      thumbs.dispose();
    };
  }, [jobKey, store, thumbs]);

  const snapshot = useCallback(
    (camera: string) =>
      new Promise<string | undefined>((resolve) => {
        const socket = socketRef.current;
        if (!socket?.connected) return resolve('not connected to the server');
        socket
          .timeout(10_000)
          .emitWithAck('live:snapshot', { jobKey, camera })
          .then(
            (ack) => resolve(ack && !ack.ok ? ack.error : undefined),
            () => resolve('the server did not answer'),
          );
      }),
    [jobKey],
  );
  return { store, thumbs, status, error, snapshot };
}

/** Identity -> its newest crop, for the identity list. */
export function useIdentityThumbnails(thumbs: ThumbnailStore): ReadonlyMap<string, IdentityThumb> {
  return useSyncExternalStore(
    (l) => thumbs.subscribe(l),
    () => thumbs.snapshot,
    () => thumbs.snapshot,
  );
}

/** The identity list (re-renders a few times a second at most). */
export function useLiveIdentities(store: LiveStore) {
  const identities = useSyncExternalStore(
    (l) => store.onIdentities(l),
    () => store.identities,
    () => store.identities,
  );
  return { identities, total: store.totalIdentities };
}

export function useFollowing(store: LiveStore): string | null {
  return useSyncExternalStore(
    (l) => store.onFollowChange(l),
    () => store.following,
    () => store.following,
  );
}

/** Follow alerts, newest first, each shown for `ttlMs`. */
export function useFollowAlerts(store: LiveStore, ttlMs = 6_000): FollowAlert[] {
  const [alerts, setAlerts] = useState<FollowAlert[]>([]);
  useEffect(() => {
    const off = store.onAlert((a) => {
      setAlerts((prev) => [a, ...prev].slice(0, 3));
      setTimeout(() => setAlerts((prev) => prev.filter((x) => x !== a)), ttlMs);
    });
    return () => void off();
  }, [store, ttlMs]);
  return alerts;
}
