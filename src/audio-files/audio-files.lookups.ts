/** Lookup rows the audio-files module owns; seeded idempotently. */
export const AUDIO_STATUSES = [
  { code: 'uploaded', description: 'Stored; not yet offered to the processing engines' },
  { code: 'queued', description: 'Waiting for a processing engine to claim it' },
  { code: 'processing', description: 'Claimed by a processing engine' },
  { code: 'processed', description: 'Transcribed by a processing engine' },
  { code: 'failed', description: 'Processing or an integrity check failed; requeue to retry' },
];
