import { ApiProperty } from '@nestjs/swagger';
import { CaseExportEntity, EXPORT_STATUSES, ExportStatus } from '../entities/case-export.entity';

/** A signed case export: its state and, once ready, what the stored bundle is. */
export class ExportResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) caseId!: string;
  @ApiProperty({ description: 'The background job that builds the bundle (GET /jobs/:id)' })
  jobId!: string;
  @ApiProperty({ enum: EXPORT_STATUSES }) status!: ExportStatus;
  @ApiProperty({ format: 'uuid' }) requestedBy!: string;
  @ApiProperty({ nullable: true, type: Number, description: 'Bytes of the tar' })
  sizeBytes!: number | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'sha256 of manifest.json (what the signature covers; the download ETag)',
  })
  manifestSha256!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Id of the signing key' })
  keyId!: string | null;
  @ApiProperty({ nullable: true, type: Number }) entryCount!: number | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) completedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expiresAt!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Where the tar downloads from while the export is ready',
  })
  downloadUrl!: string | null;

  static from(row: CaseExportEntity): ExportResponse {
    return {
      id: row.id,
      caseId: row.caseId,
      jobId: row.jobId,
      status: row.status,
      requestedBy: row.requestedBy,
      sizeBytes: row.sizeBytes === null ? null : Number(row.sizeBytes),
      manifestSha256: row.manifestSha256,
      keyId: row.keyId,
      entryCount: row.entryCount,
      error: row.error,
      createdAt: row.createdAt.toISOString(),
      completedAt: row.completedAt?.toISOString() ?? null,
      expiresAt: row.expiresAt?.toISOString() ?? null,
      downloadUrl: row.status === 'ready' ? `/api/v1/exports/${row.id}` : null,
    };
  }
}
