// Shortens the validator's Kubernetes-style messages for display next to their input, where the field
// and the value are already visible: `Invalid value: 0: spec.cameras[0].fps in body should be greater
// than or equal to 0.1` -> `Should be greater than or equal to 0.1`. The full text stays in the title.
import type { FieldError } from '@mei/contracts';

const DNS_PATTERNS = ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$'];

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function friendlyMessage(e: FieldError): string {
  const msg = e.message;
  const pattern = /should match '(.*)'$/.exec(msg);
  if (pattern && DNS_PATTERNS.includes(pattern[1])) {
    const dots = pattern[1].includes('.') ? ", '-' and '.'" : " and '-'";
    return `Use lowercase letters, digits${dots}, starting and ending with a letter or digit`;
  }
  if (e.reason === 'FieldValueRequired') return 'Required';
  const inBody = msg.indexOf(' in body ');
  if (msg.startsWith('Invalid value: ') && inBody > 0) return capitalize(msg.slice(inBody + ' in body '.length));
  if (msg.startsWith('Invalid value: ') && e.reason === 'FieldValueInvalid' && e.field === 'metadata.name') {
    return "Use lowercase letters, digits and '-', starting and ending with a letter or digit";
  }
  return msg;
}
