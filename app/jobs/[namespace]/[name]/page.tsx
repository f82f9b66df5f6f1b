import { JobDetail } from './JobDetail';

export default async function JobPage({ params }: { params: Promise<{ namespace: string; name: string }> }) {
  const { namespace, name } = await params;
  return <JobDetail namespace={decodeURIComponent(namespace)} name={decodeURIComponent(name)} />;
}
