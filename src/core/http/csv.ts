/**
 * RFC 4180 CSV: CRLF line ends; a field holding a comma, double quote, CR or LF is quoted
 * with inner quotes doubled. A text field starting with `=`, `+`, `-`, `@`, tab or CR is
 * prefixed with `'` (OWASP "CSV injection"), so a spreadsheet opening the file shows it
 * as text instead of running it as a formula. Numbers are written as they are.
 */
export type CsvValue = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvOf(columns: readonly string[], rows: readonly CsvValue[][]): string {
  return [columns, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}
