/** Audit actions of the transcriptions module. */
export const TRANSCRIPTIONS_ACTIVITY_TYPES = {
  'transcription.create': 'Transcription version posted; the audio file marked processed',
  'transcription.speakers_rename': 'Speakers renamed (a new transcription version)',
  'transcription.export': 'Transcription exported (txt, srt, vtt or json)',
} as const;
