import { estimatedPageOf } from './dto/estimated-page';
import { planRows } from './planner';

describe('planRows', () => {
  it('reads the top node of EXPLAIN (FORMAT JSON)', () => {
    expect(planRows([{ Plan: { 'Node Type': 'Bitmap Heap Scan', 'Plan Rows': 33219.6 } }])).toBe(
      33220,
    );
  });

  it('is 0 for anything else', () => {
    for (const plan of [
      undefined,
      null,
      [],
      [{}],
      [{ Plan: {} }],
      [{ Plan: { 'Plan Rows': 'x' } }],
      'x',
    ]) {
      expect(planRows(plan)).toBe(0);
    }
  });
});

describe('estimatedPageOf', () => {
  const query = { page: 2, limit: 20, offset: 20 };

  it('keeps the SPEC meta for an exact total', () => {
    expect(estimatedPageOf(['a'], 21, false, query)).toEqual({
      data: ['a'],
      meta: { page: 2, limit: 20, total: 21 },
    });
  });

  it('flags an estimated total', () => {
    expect(estimatedPageOf([], 50_000, true, query).meta).toEqual({
      page: 2,
      limit: 20,
      total: 50_000,
      totalIsEstimate: true,
    });
  });
});
