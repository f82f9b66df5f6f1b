'use client';
import { useState, type ReactNode } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { ApiRequestError } from './lib/http';

function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Live updates come over the socket; no polling and no refetch on focus.
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        // 4xx answers (401, 403, 404) will not change on retry.
        retry: (count, err) => !(err instanceof ApiRequestError && err.status < 500) && count < 2,
      },
    },
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(makeQueryClient);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
