/** Audit actions of the audio-files module. */
export const AUDIO_ACTIVITY_TYPES = {
  'audio.upload': 'Audio file uploaded',
  'audio.download': 'Audio file downloaded',
  'audio.claim': 'Audio file claimed for processing',
  'audio.fail': 'Audio processing reported as failed',
  'audio.requeue': 'Audio file put back in the processing queue',
  'audio.archive': 'Audio file archived',
  'audio.restore': 'Audio file restored from the archive',
  'audio.delete': 'Audio file content deleted',
  'audio.verify': 'Audio file integrity verified',
  'audio.verify_failed': 'Audio file failed its integrity check',
  'audio.claim_expired': 'Stale processing claim returned to the queue',
} as const;
