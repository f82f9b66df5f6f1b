import { HistoryView } from './HistoryView';

export default async function JobHistoryPage({ params }: { params: Promise<{ namespace: string; name: string }> }) {
  const { namespace, name } = await params;
  return <HistoryView namespace={decodeURIComponent(namespace)} name={decodeURIComponent(name)} />;
}
