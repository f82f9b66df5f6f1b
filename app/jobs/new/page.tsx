import { CreateJobForm } from './CreateJobForm';

export const metadata = { title: 'New job — MEI' };

export default function NewJobPage() {
  return <CreateJobForm />;
}
