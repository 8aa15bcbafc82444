import { Page, PageQuery } from '../../core/http/pagination';

/**
 * A list page whose `total` may be an estimate: lists that can match tens of thousands
 * of rows (`GET /cases`, `GET /search`) count exactly only up to a limit. The SPEC's
 * `{ page, limit, total }` is unchanged for exact totals; an estimated one adds
 * `totalIsEstimate: true`. (Belongs beside `Page` in core/http/pagination.)
 */
export interface EstimatedPage<T> extends Page<T> {
  meta: Page<T>['meta'] & { totalIsEstimate?: true };
}

export function estimatedPageOf<T>(
  data: T[],
  total: number,
  totalIsEstimate: boolean,
  query: PageQuery,
): EstimatedPage<T> {
  const meta = { page: query.page, limit: query.limit, total };
  return { data, meta: totalIsEstimate ? { ...meta, totalIsEstimate: true } : meta };
}
