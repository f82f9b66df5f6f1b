// An ingest stream is (job uid, camera, session): within one, an agent numbers its batches by seq, and the
// server dedups, acks cumulatively and applies go-back-N. A batch without session belongs to session ''.
export interface LogKey {
  jobUid: string;
  camera: string;
  session: string;
  seq: number;
}

export const streamKey = (jobUid: string, camera: string, session: string): string => `${jobUid}\u0000${camera}\u0000${session}`;
export const logKeyString = (k: LogKey): string => `${streamKey(k.jobUid, k.camera, k.session)}\u0000${k.seq}`;
