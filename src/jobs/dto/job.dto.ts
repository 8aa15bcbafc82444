import { ApiProperty } from '@nestjs/swagger';

export class JobResponse {
  @ApiProperty({ example: 'archive.4f0c…v2' }) id!: string;
  @ApiProperty({ example: 'archive' }) type!: string;
  @ApiProperty({
    enum: [
      'waiting',
      'delayed',
      'prioritized',
      'waiting-children',
      'active',
      'completed',
      'failed',
      'unknown',
    ],
  })
  state!: string;
  @ApiProperty({ minimum: 0, maximum: 100 }) progress!: number;
  @ApiProperty({ nullable: true, description: 'What the job returned once completed' })
  result!: unknown;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finishedAt!: string | null;
}
