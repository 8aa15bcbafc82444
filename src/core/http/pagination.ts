import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page = 1;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit = 20;

  get offset(): number {
    return (this.page - 1) * this.limit;
  }
}

export interface Page<T> {
  data: T[];
  meta: { page: number; limit: number; total: number };
}

export function pageOf<T>(data: T[], total: number, query: PageQuery): Page<T> {
  return { data, meta: { page: query.page, limit: query.limit, total } };
}

/** Append-only streams (turns, audit) page by id: `?after=<id>&limit=`. */
export class CursorQuery {
  @ApiPropertyOptional({ description: 'Return entries after this id', example: '0' })
  @IsOptional()
  @Matches(/^\d{1,19}$/, { message: 'after must be a numeric id' })
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit = 50;
}

export interface CursorPage<T> {
  data: T[];
  meta: { nextCursor: string | null };
}

/** Builds a cursor page from `limit + 1` fetched rows: the extra row only proves there is more. */
export function cursorPageOf<T extends { id: string }>(rows: T[], limit: number): CursorPage<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, meta: { nextCursor: rows.length > limit && last ? last.id : null } };
}
