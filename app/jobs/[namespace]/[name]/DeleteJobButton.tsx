'use client';
import { useRef } from 'react';
import { useRouter } from 'next/navigation';
import { useDeleteJob } from '@/app/lib/hooks';

/** Delete with a confirmation dialog; back to the list once the server accepted it (202). */
export function DeleteJobButton({ namespace, name, terminating }: { namespace: string; name: string; terminating: boolean }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const del = useDeleteJob();
  const router = useRouter();
  const confirm = () =>
    del.mutate(
      { namespace, name },
      {
        onSuccess: () => {
          dialog.current?.close();
          router.push('/');
        },
      },
    );
  return (
    <>
      <button type="button" className="btn btn-danger" onClick={() => dialog.current?.showModal()} disabled={terminating} data-testid="delete-job">
        {terminating ? 'Deleting…' : 'Delete'}
      </button>
      <dialog ref={dialog} className="dialog" aria-labelledby="del-title" data-testid="delete-dialog">
        <h2 id="del-title">Delete {name}?</h2>
        <p>
          This stops its workers on every edge node and removes the job <code>{namespace}/{name}</code>.
        </p>
        {del.error && (
          <p className="field-error" role="alert">
            {del.error.message}
          </p>
        )}
        <div className="form-actions">
          <button type="button" className="btn btn-ghost" onClick={() => dialog.current?.close()} autoFocus>
            Cancel
          </button>
          <button type="button" className="btn btn-danger" onClick={confirm} disabled={del.isPending} data-testid="confirm-delete">
            {del.isPending ? 'Deleting…' : 'Delete job'}
          </button>
        </div>
      </dialog>
    </>
  );
}
