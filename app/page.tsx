import { JobsView } from './components/JobsView';

export default function JobsPage() {
  return <JobsView />;
}
