import { Global, Module } from '@nestjs/common';
import { SigningKeys } from './signing-keys';

/** The server's signing key (audit checkpoints, and signed exports to come). */
@Global()
@Module({
  providers: [SigningKeys],
  exports: [SigningKeys],
})
export class SigningModule {}
