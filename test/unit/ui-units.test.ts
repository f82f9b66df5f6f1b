import { describe, expect, it } from 'vitest';
import { formatByteRate } from '../../app/lib/units.ts';

describe('formatByteRate (the job page’s upstream column)', () => {
  it('shows bytes/s in SI units with at most two significant decimals', () => {
    expect(formatByteRate(undefined)).toBe('—');
    expect(formatByteRate(0)).toBe('0 B/s');
    expect(formatByteRate(999.4)).toBe('999 B/s');
    expect(formatByteRate(2_100)).toBe('2.1 kB/s');
    expect(formatByteRate(15_400)).toBe('15 kB/s');
    expect(formatByteRate(1_400_000)).toBe('1.4 MB/s');
    expect(formatByteRate(-1)).toBe('—');
  });
});
