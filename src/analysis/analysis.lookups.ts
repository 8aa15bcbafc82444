import type { Sentiment } from './entities/analysis-result.entity';

/** Lookup rows the analysis module owns; seeded idempotently. */
export const SENTIMENTS: { code: Sentiment; description: string }[] = [
  { code: 'positive', description: 'Mostly positive tone' },
  { code: 'neutral', description: 'Neither positive nor negative' },
  { code: 'negative', description: 'Mostly negative tone' },
  { code: 'mixed', description: 'Strongly positive and negative passages' },
];

export const SENTIMENT_CODES: Sentiment[] = SENTIMENTS.map((s) => s.code);
