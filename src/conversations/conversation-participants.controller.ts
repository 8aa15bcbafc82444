import { Body, Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated } from '../core/security/access.decorators';
import { ConversationParticipantsService } from './conversation-participants.service';
import {
  AddConversationParticipantDto,
  ConversationParticipantListResponse,
  ConversationParticipantResponse,
  UpdateConversationParticipantDto,
} from './dto/conversation.dto';

/**
 * A conversation's participants: anyone who sees the conversation lists them; owners, and
 * holders of conversations:write with cases:all, manage them (`access: 'manage'`).
 */
@ApiTags('conversations')
@ApiBearerAuth()
@Controller('conversations')
export class ConversationParticipantsController {
  constructor(private readonly participants: ConversationParticipantsService) {}

  @Get(':id/participants')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOkResponse({ type: ConversationParticipantListResponse })
  @ApiOperation({ summary: "List a conversation's participants" })
  async list(@UuidParam() id: string): Promise<ConversationParticipantListResponse> {
    return { data: (await this.participants.list(id)).map(ConversationParticipantResponse.from) };
  }

  @Post(':id/participants')
  @Authenticated({ permission: 'conversations:write', resource: 'conversation', access: 'manage' })
  @ApiCreatedResponse({ type: ConversationParticipantResponse })
  @ApiOperation({ summary: 'Add a participant to a conversation' })
  async add(
    @UuidParam() id: string,
    @Body() dto: AddConversationParticipantDto,
  ): Promise<ConversationParticipantResponse> {
    return ConversationParticipantResponse.from(await this.participants.add(id, dto));
  }

  @Patch(':id/participants/:userId')
  @Authenticated({ permission: 'conversations:write', resource: 'conversation', access: 'manage' })
  @ApiOkResponse({ type: ConversationParticipantResponse })
  @ApiOperation({ summary: "Change a conversation participant's role" })
  async changeRole(
    @UuidParam() id: string,
    @UuidParam('userId') userId: string,
    @Body() dto: UpdateConversationParticipantDto,
  ): Promise<ConversationParticipantResponse> {
    return ConversationParticipantResponse.from(
      await this.participants.changeRole(id, userId, dto),
    );
  }

  @Delete(':id/participants/:userId')
  @Authenticated({ permission: 'conversations:write', resource: 'conversation', access: 'manage' })
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a participant from a conversation' })
  remove(@UuidParam() id: string, @UuidParam('userId') userId: string): Promise<void> {
    return this.participants.remove(id, userId);
  }
}
