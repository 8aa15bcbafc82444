import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import TestAgent from 'supertest/lib/agent';
import { TestApp } from './app';
import { createCase, uploadAudio, wavBuffer } from './audio';

export interface Segment {
  start: number;
  end: number;
  speaker?: string | null;
  text: string;
  confidence?: number | null;
}

export interface TranscriptionBody {
  id: string;
  audioFileId: string;
  caseId: string;
  version: number;
  parentVersion: number | null;
  audioSha256: string;
  language: string | null;
  content: string;
  segments: Segment[];
  segmentCount: number;
  engine: string;
  confidence: number | null;
  isLatest: boolean;
  createdBy: string;
  createdAt: string;
}

export const FIXTURES = join(__dirname, '..', 'fixtures', 'transcripts');

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** Segments of the hand-checked export fixtures (they end at 3729 s). */
export function fixtureSegments(): Segment[] {
  return JSON.parse(fixture('segments.json')) as Segment[];
}

/** A short two-speaker transcript of `text` within the first seconds. */
export function simpleSegments(text: string): Segment[] {
  return [
    { start: 0, end: 0.4, speaker: 'Speaker_0', text, confidence: 0.9 },
    { start: 0.4, end: 0.9, speaker: 'Speaker_1', text: 'Understood.', confidence: 0.8 },
  ];
}

/** A case of `auth`'s user holding one uploaded audio file of `seconds` (8 Hz: tiny files). */
export async function caseWithAudio(
  t: TestApp,
  auth: Record<string, string>,
  options: { seconds?: number; language?: string; caseId?: string } = {},
): Promise<{ caseId: string; audioId: string; sha256: string }> {
  const caseId = options.caseId ?? (await createCase(t.http, auth, 'Transcription case'));
  const uploaded = await uploadAudio(t, auth, caseId, {
    content: wavBuffer(options.seconds ?? 1, options.seconds && options.seconds > 60 ? 8 : 8000),
    fields: options.language ? [['language', options.language]] : [],
  });
  if (uploaded.status !== 201) throw new Error(`upload failed: ${JSON.stringify(uploaded.body)}`);
  return { caseId, audioId: uploaded.body.id as string, sha256: uploaded.body.sha256 as string };
}

export function postTranscription(
  http: TestAgent,
  auth: Record<string, string>,
  audioId: string,
  body: Record<string, unknown>,
): ReturnType<TestAgent['post']> {
  return http
    .post(`/api/v1/audio/${audioId}/transcriptions`)
    .set(auth)
    .send({ engine: 'test-engine', ...body });
}
