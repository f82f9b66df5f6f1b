'use client';
// A labelled form control with the schema's help text and the field's error (by its Kubernetes path).
import type { ReactNode } from 'react';
import type { FieldError } from '@mei/contracts';
import { fieldDomId } from '@/app/lib/jobForm';
import { friendlyMessage } from '@/app/lib/fieldMessages';

export interface ControlProps {
  id: string;
  'aria-invalid': boolean;
  'aria-describedby'?: string;
}

export function FieldErrorText({ path, error }: { path: string; error?: FieldError }) {
  if (!error) return null;
  return (
    <p className="field-error" id={`${fieldDomId(path)}-error`} data-testid={`error-${path}`} role="alert" title={error.message}>
      {friendlyMessage(error)}
    </p>
  );
}

export function Field({
  path,
  label,
  errors,
  hint,
  className,
  children,
}: {
  path: string;
  label: string;
  errors: Map<string, FieldError>;
  hint?: string;
  className?: string;
  children: (p: ControlProps) => ReactNode;
}) {
  const id = fieldDomId(path);
  const error = errors.get(path);
  const describedBy = [error ? `${id}-error` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' field-invalid' : ''}${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': Boolean(error), 'aria-describedby': describedBy })}
      <FieldErrorText path={path} error={error} />
      {hint && (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
    </div>
  );
}
