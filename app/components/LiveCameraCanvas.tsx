'use client';
// One camera of the live view: a canvas redrawn on requestAnimationFrame from the LiveStore (never from
// React state): the preview picture or a neutral background, then trails and boxes coloured and labelled
// by global identity. A visually hidden list mirrors the drawn labels ("P3@x,y,w,h") for tests and
// screen readers.
import { useEffect, useRef } from 'react';
import { isVisible, previewAllows, type LiveFrame, type Preview } from '@mei/contracts';
import { identityColor, trackKey, type CameraView, type LiveStore } from '@/app/lib/liveStore';

const UNASSIGNED = '#9aa3b2';
const BACKGROUND = '#1b202b';

export function LiveCameraCanvas({ store, camera, aspect, preview }: { store: LiveStore; camera: string; aspect: number; preview: Preview }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const listRef = useRef<HTMLUListElement>(null);

  useEffect(() => {
    const canvas = canvasRef.current!;
    const list = listRef.current!;
    const ctx = canvas.getContext('2d')!;
    let raf = 0;
    let lastFrame: LiveFrame | undefined;
    let lastAspect = '';
    const draw = () => {
      raf = requestAnimationFrame(draw);
      const v = store.view(camera);
      const dpr = window.devicePixelRatio || 1;
      const W = Math.max(1, Math.round(canvas.clientWidth * dpr));
      const H = Math.max(1, Math.round(canvas.clientHeight * dpr));
      const resized = canvas.width !== W || canvas.height !== H;
      if (!resized && v.version === v.drawnVersion) return;
      if (resized) {
        canvas.width = W;
        canvas.height = H;
      }
      const f = v.frame;
      if (f) {
        const a = `${f.width} / ${f.height}`;
        if (a !== lastAspect) canvas.style.aspectRatio = lastAspect = a;
      }
      paint(ctx, W, H, dpr, v, store.following, preview);
      const fresh = f !== undefined && f !== lastFrame;
      lastFrame = f;
      store.markDrawn(camera, v, fresh, performance.timeOrigin + performance.now());
      if (fresh) mirrorLabels(list, f);
    };
    raf = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(raf);
  }, [store, camera, preview]);

  return (
    <>
      <canvas ref={canvasRef} className="live-canvas" style={{ aspectRatio: String(aspect) }} data-testid={`camera-canvas-${camera}`} aria-label={`Camera ${camera}: tracked people`} role="img" />
      <ul ref={listRef} className="visually-hidden" data-testid={`overlay-${camera}`} aria-label={`People in camera ${camera}`} />
    </>
  );
}

function mirrorLabels(list: HTMLUListElement, f: LiveFrame): void {
  const items = f.tracks
    .filter((t) => isVisible(t.state))
    .map((t) => {
      const li = document.createElement('li');
      li.textContent = `${trackKey(t)}@${Math.round(t.x)},${Math.round(t.y)},${Math.round(t.w)},${Math.round(t.h)}`;
      return li;
    });
  list.dataset.frame = String(f.frameIndex);
  list.dataset.emittedAt = String(f.emittedAt);
  list.replaceChildren(...items);
}

function paint(ctx: CanvasRenderingContext2D, W: number, H: number, dpr: number, v: CameraView, following: string | null, preview: Preview): void {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  const f = v.frame;
  if (v.preview) ctx.drawImage(v.preview.bitmap, 0, 0, W, H);
  else {
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = '#6b7385';
    ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    const note =
      previewAllows(preview, 'stream') ? 'waiting for the preview…' : previewAllows(preview, 'snapshot') ? 'no snapshot yet (video stays on the edge)' : 'privacy: no video leaves the edge';
    ctx.fillText(f ? note : 'waiting for frames…', W / 2, H - 12 * dpr);
    ctx.textAlign = 'start';
  }
  if (!f) return;
  const sx = W / f.width;
  const sy = H / f.height;
  const dim = (id: string) => following !== null && id !== following;

  // Trails under the boxes, fading toward their oldest point.
  for (const [key, trail] of v.trails) {
    const pts = trail.points;
    if (pts.length < 2) continue;
    ctx.strokeStyle = key.startsWith('#') ? UNASSIGNED : identityColor(key);
    ctx.lineWidth = (key === following ? 3 : 2) * dpr;
    for (let i = 1; i < pts.length; i++) {
      ctx.globalAlpha = (dim(key) ? 0.25 : 0.9) * (i / pts.length);
      ctx.beginPath();
      ctx.moveTo(pts[i - 1].x * sx, pts[i - 1].y * sy);
      ctx.lineTo(pts[i].x * sx, pts[i].y * sy);
      ctx.stroke();
    }
  }
  ctx.globalAlpha = 1;

  ctx.font = `600 ${12 * dpr}px system-ui, sans-serif`;
  for (const t of f.tracks) {
    if (t.state === 'removed') continue;
    const key = trackKey(t);
    const color = t.globalId ? identityColor(t.globalId) : UNASSIGNED;
    const x = t.x * sx;
    const y = t.y * sy;
    const w = t.w * sx;
    const h = t.h * sy;
    const followed = following !== null && t.globalId === following;
    ctx.globalAlpha = dim(t.globalId || key) ? 0.35 : 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = (followed ? 4 : 2) * dpr;
    ctx.setLineDash(t.state === 'lost' ? [4 * dpr, 4 * dpr] : []);
    if (followed) {
      ctx.shadowColor = color;
      ctx.shadowBlur = 12 * dpr;
    }
    ctx.strokeRect(x, y, w, h);
    ctx.shadowBlur = 0;
    ctx.setLineDash([]);
    if (t.state === 'lost') continue;
    const label = t.globalId || '…';
    const tw = ctx.measureText(label).width + 8 * dpr;
    const th = 16 * dpr;
    const ly = y - th >= 0 ? y - th : y;
    ctx.fillStyle = color;
    ctx.fillRect(x, ly, tw, th);
    ctx.fillStyle = '#0b0e14';
    ctx.fillText(label, x + 4 * dpr, ly + 12 * dpr);
  }
  ctx.globalAlpha = 1;
}
