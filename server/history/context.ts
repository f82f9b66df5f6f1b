// The running history service, for the API route handlers: Next bundles them apart from server/main.ts, so
// module singletons are not shared; like the control plane (http/context.ts) it is published on globalThis.
import type { HistoryApi } from './api-types.ts';

declare global {
  // eslint-disable-next-line no-var
  var __meiHistory: HistoryApi | undefined;
}

export const publishHistory = (h: HistoryApi | undefined) => {
  globalThis.__meiHistory = h;
};
export const currentHistory = (): HistoryApi | undefined => globalThis.__meiHistory;
