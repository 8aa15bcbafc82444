import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
} from 'class-validator';
import { PageQuery } from '../../core/http/pagination';
import { IsPrintableText } from '../../core/http/validation-patterns';

export const SEARCH_TYPES = ['cases', 'transcriptions', 'notes', 'turns'] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

export const RESULT_TYPES = ['case', 'transcription', 'note', 'turn'] as const;
export type ResultType = (typeof RESULT_TYPES)[number];

export class SearchQuery extends PageQuery {
  @ApiProperty({
    description: 'Web search syntax: words, "a phrase", -excluded, or',
    example: 'break-in "back door"',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  q!: string;

  @ApiPropertyOptional({
    description: 'Comma-separated; default: every type the caller may read',
    example: 'cases,transcriptions',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.split(',').map((v) => v.trim()) : value,
  )
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @IsIn(SEARCH_TYPES, {
    each: true,
    message: `type must be a comma-separated list of ${SEARCH_TYPES.join(', ')}`,
  })
  type?: SearchType[];
}

export class SearchResultResponse {
  @ApiProperty({ enum: RESULT_TYPES }) type!: ResultType;
  @ApiProperty({ description: 'UUID, or the numeric id of a turn' }) id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) caseId!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) audioFileId!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) conversationId!: string | null;
  @ApiProperty({
    description:
      'Case title (cases, notes), audio file name (transcriptions), conversation name (turns)',
  })
  title!: string;
  @ApiProperty({
    description: 'HTML-escaped excerpt; the matching words are wrapped in <mark>…</mark>',
  })
  snippet!: string;
  @ApiProperty({ description: 'ts_rank relevance; results are sorted by it' }) rank!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}
