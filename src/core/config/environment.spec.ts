import { validateEnvironment } from './environment';

describe('CONVERSATION_IDLE_MINUTES', () => {
  const base = { ...process.env };
  const idle = (value?: string) =>
    validateEnvironment({
      ...base,
      CONVERSATION_IDLE_MINUTES: value,
    }).CONVERSATION_IDLE_MINUTES;

  it('defaults to 120 minutes and accepts 0 (never end an idle conversation)', () => {
    expect(idle(undefined)).toBe(120);
    expect(idle('')).toBe(120);
    expect(idle('0')).toBe(0);
    expect(idle('15')).toBe(15);
  });

  it.each(['-1', '1.5', 'soon', '525601'])('refuses %s at start-up', (value) => {
    expect(() => idle(value)).toThrow(/CONVERSATION_IDLE_MINUTES/);
  });
});
