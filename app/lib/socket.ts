// One Socket.IO connection to the /ui namespace per browser tab, shared by every component that wants
// live job events. The session cookie authenticates the handshake, so the socket is dropped on sign-out
// (a new one is opened with the new cookie after the next sign-in).
import { io, type Socket } from 'socket.io-client';
import { UI_NAMESPACE, type ServerToUiEvents, type UiToServerEvents } from '@mei/contracts';

export type UiSocket = Socket<ServerToUiEvents, UiToServerEvents>;

let socket: UiSocket | undefined;
let users = 0;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let closeTimer: ReturnType<typeof setTimeout> | undefined;
/** Navigating between pages unmounts one user just before the next mounts: keep the socket that long. */
const CLOSE_GRACE_MS = 5000;

/** The shared socket; call releaseUiSocket() when done so it closes with its last user. */
export function acquireUiSocket(): UiSocket {
  users += 1;
  if (closeTimer) clearTimeout(closeTimer);
  closeTimer = undefined;
  if (!socket) {
    // forceNew: never reuse a cached Manager whose engine was opened with an older cookie.
    const s: UiSocket = io(UI_NAMESPACE, { withCredentials: true, forceNew: true, transports: ['websocket', 'polling'] });
    // A refusal by the server's auth middleware does not reconnect by itself (socket.active is false):
    // retry slowly so a socket opened just before sign-in recovers once the cookie is there.
    s.on('connect_error', () => {
      if (s.active || retryTimer) return;
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        if (socket === s && users > 0) s.connect();
      }, 3000);
    });
    socket = s;
  }
  return socket;
}

export function releaseUiSocket(): void {
  users = Math.max(0, users - 1);
  if (users === 0 && !closeTimer) {
    closeTimer = setTimeout(() => {
      closeTimer = undefined;
      if (users === 0) closeUiSocket();
    }, CLOSE_GRACE_MS);
  }
}

export function closeUiSocket(): void {
  if (closeTimer) clearTimeout(closeTimer);
  closeTimer = undefined;
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = undefined;
  socket?.disconnect();
  socket = undefined;
}
