/** Turn payloads and COPY/INSERT rows shaped like the real traffic (~300 bytes of JSON). */

const PHRASES = [
  'and then the witness said that on the evening of the incident he was at home',
  'objection, your honour, the question calls for speculation on the part of the witness',
  'could you please state for the record where you were employed at the time',
  'I do not recall the exact date but it was sometime in the early spring',
  'the contract was signed by both parties in the presence of the notary',
];

/** A turn as a client POSTs it. */
export function turnBody(messageNumber: number, spokenAtMs: number): Record<string, unknown> {
  return {
    messageNumber,
    speaker: `Speaker_${messageNumber % 3}`,
    rawText: PHRASES[messageNumber % PHRASES.length]!,
    spokenAt: new Date(spokenAtMs).toISOString(),
    confidence: 0.55 + (messageNumber % 45) / 100,
    contextDetected: 'testimony',
    businessDomain: 'legal',
    aiModelUsed: 'whisper-large-v3',
    processingTimeMs: 80 + (messageNumber % 120),
  };
}

/** Columns the COPY and naive-INSERT baselines write, in order (the pipeline writes the same). */
export const ROW_COLUMNS = [
  'partition_month',
  'conversation_id',
  'message_number',
  'speaker',
  'raw_text',
  'cleaned_text',
  'spoken_at',
  'confidence',
  'cleaning_applied',
  'cleaning_level',
  'corrections',
  'context_detected',
  'business_domain',
  'conversation_flow',
  'ai_model_used',
  'transcription_error_detected',
  'processing_time_ms',
  'sliding_window_size',
  'context_turns_used',
  'ingested_by',
  'received_at',
  'persisted_at',
] as const;

export type RowValue = string | number | boolean | null;

/** The row the pipeline would store for `turnBody(messageNumber, spokenAtMs)`. */
export function turnRow(
  partitionMonth: string,
  conversationId: string,
  messageNumber: number,
  spokenAtMs: number,
  userId: string,
  receivedAt: string,
  persistedAt: string,
): RowValue[] {
  const body = turnBody(messageNumber, spokenAtMs);
  return [
    partitionMonth,
    conversationId,
    messageNumber,
    body.speaker as string,
    body.rawText as string,
    null,
    body.spokenAt as string,
    body.confidence as number,
    false,
    'none',
    '[]',
    'testimony',
    'legal',
    null,
    'whisper-large-v3',
    false,
    body.processingTimeMs as number,
    null,
    null,
    userId,
    receivedAt,
    persistedAt,
  ];
}

const escapeCopy = (value: RowValue): string => {
  if (value === null) return '\\N';
  if (typeof value !== 'string') return String(value);
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\t/g, '\\t')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r');
};

/** One line of COPY text format. */
export const copyLine = (row: RowValue[]): string => `${row.map(escapeCopy).join('\t')}\n`;
