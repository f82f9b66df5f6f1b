import { LiveView } from './LiveView';

export default async function LivePage({ params }: { params: Promise<{ namespace: string; name: string }> }) {
  const { namespace, name } = await params;
  return <LiveView namespace={decodeURIComponent(namespace)} name={decodeURIComponent(name)} />;
}
