import { Suspense } from 'react';
import { SearchView } from './SearchView';

export const metadata = { title: 'Person search — MEI' };

export default function SearchPage() {
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
      <SearchView />
    </Suspense>
  );
}
