import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { ExportResponse } from './dto/export.dto';
import { ExportsService } from './exports.service';

/**
 * Whether the caller asked for the export's JSON description rather than its bytes:
 * an Accept naming application/json and not the tar. Browsers and plain clients
 * (`*\/*`, no Accept) get the tar, as SPEC section 13 defines GET /exports/:id.
 */
export function wantsDescription(accept: string | string[] | undefined): boolean {
  const value = (Array.isArray(accept) ? accept.join(',') : (accept ?? '')).toLowerCase();
  return value.includes('application/json') && !value.includes('application/x-tar');
}

@ApiTags('exports')
@ApiBearerAuth()
@Controller('cases')
export class CaseExportsController {
  constructor(private readonly exports: ExportsService) {}

  @Post(':id/export')
  @Authenticated({ permission: ['cases:read', 'audio:read'], resource: 'case', access: 'read' })
  @HttpCode(202)
  @ApiAcceptedResponse({ type: ExportResponse })
  @ApiOperation({ summary: 'Request a signed export of the case (background job)' })
  async request(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ExportResponse> {
    const row = await this.exports.request(actor, id);
    void reply.header('location', `/api/v1/exports/${row.id}`);
    return ExportResponse.from(row);
  }
}

@ApiTags('exports')
@ApiBearerAuth()
@Controller('exports')
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  /** The tar; with `Accept: application/json`, the export's state instead. */
  @Get(':id')
  @Authenticated({ permission: ['cases:read', 'audio:read'] })
  @ApiProduces('application/x-tar', 'application/json')
  @ApiOkResponse({
    type: ExportResponse,
    description: 'The tar, or with Accept: application/json its state',
  })
  @ApiOperation({ summary: 'Download a signed case export (or read its state)' })
  async get(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (wantsDescription(request.headers.accept)) {
      await reply.send(ExportResponse.from(await this.exports.get(actor, id)));
      return;
    }
    const { row, body } = await this.exports.download(actor, id);
    await reply
      .status(200)
      .headers({
        'content-type': 'application/x-tar',
        'content-length': String(row.sizeBytes),
        'content-disposition': `attachment; filename="case-export-${row.id}.tar"`,
        etag: `"${row.manifestSha256}"`,
        'cache-control': 'private, no-store',
        vary: 'accept',
      })
      .send(body);
  }
}
