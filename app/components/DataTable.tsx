'use client';
import type { HTMLAttributes, ReactNode } from 'react';

/** One column: its header and how a row fills its cell. `num` right-aligns both (counts, times). */
export interface Column<T> {
  header: ReactNode;
  cell: (row: T) => ReactNode;
  num?: boolean;
  /** Class of the cells (besides `num`), e.g. 'muted', 'mono', 'msg'. */
  className?: string;
  testId?: string;
}

/**
 * The dashboard's tables (jobs, conditions, workers, cameras, history): one header row, one row per item.
 * Rows are keyed and test-id'd by the caller; `rowProps` adds behaviour such as a clickable row.
 */
export function DataTable<T>({
  rows,
  columns,
  rowKey,
  rowTestId,
  rowProps,
  testId,
}: {
  rows: readonly T[];
  columns: ReadonlyArray<Column<T>>;
  rowKey: (row: T) => string | number;
  rowTestId?: (row: T) => string;
  rowProps?: (row: T) => HTMLAttributes<HTMLTableRowElement>;
  testId?: string;
}) {
  const cls = (c: Column<T>) => [c.num ? 'num' : '', c.className ?? ''].filter(Boolean).join(' ') || undefined;
  return (
    <table className="table" data-testid={testId}>
      <thead>
        <tr>
          {columns.map((c, i) => (
            <th key={i} scope="col" className={c.num ? 'num' : undefined}>
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={rowKey(r)} data-testid={rowTestId?.(r)} {...rowProps?.(r)}>
            {columns.map((c, i) => (
              <td key={i} className={cls(c)} data-testid={c.testId}>
                {c.cell(r)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
