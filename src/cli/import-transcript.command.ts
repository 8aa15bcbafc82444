import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { Command, CommandRunner, Option } from 'nest-commander';
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { UsersRepository } from '../auth/users.repository';
import { actorOf } from '../auth/strategies/principal';
import { AppConfig } from '../core/config/app-config';
import { ProblemException } from '../core/http/problem.exception';
import { flattenValidationErrors } from '../core/http/validation';
import { RequestContext } from '../core/http/request-context';
import { UUID } from '../core/http/validation-patterns';
import { CreateTranscriptionDto } from '../transcriptions/dto/transcription.dto';
import { parseJsonTranscript, parseSrt } from '../transcriptions/transcript-import';
import { TranscriptionsService } from '../transcriptions/transcriptions.service';

/* eslint-disable no-console -- a CLI talks to its operator on stdout */

const MAX_FILE_BYTES = 50 * 1024 * 1024;

interface ImportOptions {
  audio: string;
  as?: string;
  engine?: string;
  language?: string;
}

/**
 * Imports a JSON or SRT transcript as the next version of an audio file's transcription,
 * through the same service (validation, version allocation, audit) as the API.
 */
@Command({
  name: 'import-transcript',
  arguments: '<file>',
  description: 'Import a JSON or SRT transcript into an audio file as a new version',
})
export class ImportTranscriptCommand extends CommandRunner {
  constructor(
    private readonly transcriptions: TranscriptionsService,
    private readonly users: UsersRepository,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async run([file]: string[], options: ImportOptions): Promise<void> {
    if (!file) throw new Error('Name the transcript file: import-transcript <file> --audio <id>');
    if ((await stat(file)).size > MAX_FILE_BYTES) throw new Error(`${file} is larger than 50 MiB`);
    const source = await readFile(file, 'utf8');
    const isSrt = extname(file).toLowerCase() === '.srt' || !/^\s*[[{]/.test(source);
    const body = isSrt ? { segments: parseSrt(source) } : parseJsonTranscript(source);
    const dto = plainToInstance(CreateTranscriptionDto, {
      engine: 'import',
      ...body,
      ...(options.engine ? { engine: options.engine } : {}),
      ...(options.language ? { language: options.language } : {}),
    });
    const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
    if (errors.length > 0) {
      const lines = flattenValidationErrors(errors).map((e) => `  - ${e.field}: ${e.message}`);
      throw new Error(`The transcript is not valid:\n${lines.join('\n')}`);
    }
    const login = options.as ?? this.config.get('ADMIN_USERNAME');
    const user = await this.users.findForLogin(login);
    const principal = user ? await this.users.findPrincipal(user.id, null) : null;
    if (!principal?.isActive) throw new Error(`No active user "${login}" to import as (--as)`);

    const store = { actor: actorOf(principal, 'cli'), userAgent: 'verbatim-cli import-transcript' };
    const outcome = await RequestContext.run(store, async () => {
      try {
        return await this.transcriptions.create(actorOf(principal, 'cli'), options.audio, dto);
      } catch (error) {
        if (error instanceof ProblemException) {
          const details = error.errors?.map((e) => `\n  - ${e.field}: ${e.message}`).join('') ?? '';
          throw new Error(`${error.title}: ${error.detail}${details}`);
        }
        throw error;
      }
    });
    if (outcome.kind !== 'transcription')
      throw new Error('The file reported a failure instead of a transcript');
    const { transcription } = outcome;
    console.log(
      `Imported ${transcription.segmentCount} segments as version ${transcription.version} of audio ${options.audio} (transcription ${transcription.id})`,
    );
  }

  @Option({
    flags: '-a, --audio <audioId>',
    description: 'The audio file the transcript belongs to',
    required: true,
  })
  parseAudio(value: string): string {
    if (!UUID.test(value)) {
      throw new Error('--audio must be a UUID');
    }
    return value.toLowerCase();
  }

  @Option({
    flags: '--as <login>',
    description: 'User the import is recorded as (default: ADMIN_USERNAME)',
  })
  parseAs(value: string): string {
    return value;
  }

  @Option({
    flags: '-e, --engine <name>',
    description: 'Engine name recorded on the version (default: import)',
  })
  parseEngine(value: string): string {
    return value;
  }

  @Option({ flags: '-l, --language <tag>', description: "Language tag (default: the audio's)" })
  parseLanguage(value: string): string {
    return value;
  }
}
