import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '../core/security/access.decorators';
import { SigningKeys } from '../core/signing/signing-keys';

export class SigningKeyResponse {
  @ApiProperty({ description: 'First 16 hex digits of SHA-256 over the key (SPKI DER)' })
  keyId!: string;

  @ApiProperty({ description: 'The Ed25519 public key, SPKI PEM' })
  publicKeyPem!: string;
}

/**
 * The server's public signing key at the root, as RFC 8615 places well-known URIs, so that
 * anyone holding a signed checkpoint (or, later, an export) can check it without an account.
 */
@ApiTags('audit')
@Controller('.well-known')
@Public()
export class SigningKeyController {
  constructor(private readonly keys: SigningKeys) {}

  @Get('verbatim-signing-key')
  @ApiOperation({ summary: "The server's public signing key (Ed25519)" })
  @ApiOkResponse({ type: SigningKeyResponse })
  publicKey(): Promise<SigningKeyResponse> {
    return this.keys.currentPublicKey();
  }
}
