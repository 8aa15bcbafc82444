import { randomBytes } from 'node:crypto';

/** One demo account, with the password shown once to the operator. */
export interface DemoAccount {
  username: string;
  role: string;
  password: string;
}

export interface DemoSummary {
  accounts: DemoAccount[];
  cases: number;
  audio: number;
  transcriptions: number;
  analyses: number;
  conversationTurns: number;
}

/** The demo's users: one per built-in role besides the admin the seeder signs in as. */
export const DEMO_USERS: { username: string; role: string; fullName: string }[] = [
  { username: 'demo.supervisor', role: 'supervisor', fullName: 'Sam Supervisor' },
  { username: 'demo.caseworker', role: 'case_worker', fullName: 'Casey Worker' },
  { username: 'demo.processor', role: 'processor', fullName: 'Engine Processor' },
  { username: 'demo.auditor', role: 'auditor', fullName: 'Ada Auditor' },
];

export const DEMO_ADMIN = 'demo.admin';

const CASES = [
  {
    title: 'Customer complaint: delayed refund',
    description: 'Caller reports a refund promised three weeks ago and never received.',
    priority: 'high',
    call: [
      ['Agent', 'Thank you for calling, how can I help you today?'],
      ['Customer', 'I was promised a refund three weeks ago and it still has not arrived.'],
      ['Agent', 'I am sorry to hear that. Let me look up your order.'],
      ['Customer', 'The order number is four five one two.'],
      ['Agent', 'I can see the refund was approved but never sent. I will send it today.'],
    ],
    sentiment: 'negative',
  },
  {
    title: 'Insurance claim interview',
    description: 'Recorded statement about water damage in a rented flat.',
    priority: 'medium',
    call: [
      ['Adjuster', 'Please describe when you first noticed the water damage.'],
      ['Claimant', 'On Monday morning the kitchen ceiling was dripping.'],
      ['Adjuster', 'Did you contact the landlord?'],
      ['Claimant', 'Yes, the same day, and a plumber came on Tuesday.'],
    ],
    sentiment: 'neutral',
  },
  {
    title: 'Onboarding call: new supplier',
    description: 'Kick-off call with a new logistics supplier.',
    priority: 'low',
    call: [
      ['Buyer', 'Welcome aboard, we are glad to start working with you.'],
      ['Supplier', 'Thank you, we are excited too. Shall we go through the schedule?'],
      ['Buyer', 'Yes, the first delivery is planned for the fifth.'],
    ],
    sentiment: 'positive',
  },
] as const;

const LIVE_TURNS = [
  ['Operator', 'Emergency line, what is the address of the incident?'],
  ['Caller', 'Twelve Harbour Street, second floor.'],
  ['Operator', 'Is anyone injured?'],
  ['Caller', 'One person fell and cannot stand up.'],
  ['Operator', 'Is the person conscious and breathing?'],
  ['Caller', 'Yes, conscious, breathing normally.'],
  ['Operator', 'An ambulance is on its way. Stay with them.'],
  ['Caller', 'Okay, thank you, I will wait downstairs to open the door.'],
] as const;

/** A playable mono 16-bit WAV: a few tones, `seconds` long. */
export function demoWav(seconds: number, pitch: number): Buffer {
  const rate = 8000;
  const samples = rate * seconds;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) {
    const tone = pitch * (1 + Math.floor(i / rate) / 8);
    wav.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * tone * i) / rate)), 44 + i * 2);
  }
  return wav;
}

export function demoPassword(): string {
  return `demo-${randomBytes(12).toString('base64url')}`;
}

class DemoClient {
  private auth: Record<string, string> = {};

  constructor(private readonly baseUrl: string) {}

  async login(username: string, password: string): Promise<void> {
    const body = await this.send<{ accessToken: string }>('POST', '/auth/login', {
      login: username,
      password,
    });
    this.auth = { authorization: `Bearer ${body.accessToken}` };
  }

  async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}/api/v1${path}`, {
      method,
      headers: {
        ...this.auth,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return this.read<T>(method, path, response);
  }

  async upload<T>(path: string, file: Buffer, filename: string): Promise<T> {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(file)], { type: 'audio/wav' }), filename);
    const response = await fetch(`${this.baseUrl}/api/v1${path}`, {
      method: 'POST',
      headers: this.auth,
      body: form,
    });
    return this.read<T>('POST', path, response);
  }

  private async read<T>(method: string, path: string, response: Response): Promise<T> {
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }
}

/**
 * Creates the demo data through the public API of a running instance (`baseUrl`), signed
 * in as a demo admin: every row is validated, authorised and audited exactly as a client's
 * would be, and nothing here knows the schema.
 */
export async function createDemoData(
  baseUrl: string,
  admin: { username: string; password: string },
  log: (line: string) => void,
): Promise<DemoSummary> {
  const api = new DemoClient(baseUrl);
  await api.login(admin.username, admin.password);

  const accounts: DemoAccount[] = [];
  const ids = new Map<string, string>();
  for (const user of DEMO_USERS) {
    const password = demoPassword();
    const created = await api.send<{ id: string }>('POST', '/users', {
      username: user.username,
      email: `${user.username}@demo.verbatim.invalid`,
      fullName: user.fullName,
      password,
      role: user.role,
    });
    ids.set(user.username, created.id);
    accounts.push({ username: user.username, role: user.role, password });
  }
  log(`created ${accounts.length} users`);

  const summary: DemoSummary = {
    accounts,
    cases: 0,
    audio: 0,
    transcriptions: 0,
    analyses: 0,
    conversationTurns: 0,
  };
  let firstCase: string | undefined;
  for (const [index, demo] of CASES.entries()) {
    const kase = await api.send<{ id: string }>('POST', '/cases', {
      title: demo.title,
      description: demo.description,
      priority: demo.priority,
    });
    firstCase ??= kase.id;
    summary.cases += 1;
    await api.send('POST', `/cases/${kase.id}/participants`, {
      userId: ids.get('demo.caseworker'),
      role: 'lead',
    });
    await api.send('POST', `/cases/${kase.id}/participants`, {
      userId: ids.get('demo.supervisor'),
      role: 'viewer',
    });
    await api.send('POST', `/cases/${kase.id}/notes`, {
      body: `Opened for the demo: ${demo.description}`,
    });

    const seconds = demo.call.length * 3;
    const audio = await api.upload<{ id: string }>(
      `/cases/${kase.id}/audio`,
      demoWav(seconds, 220 + index * 110),
      `call-${index + 1}.wav`,
    );
    summary.audio += 1;
    const transcription = await api.send<{ id: string }>(
      'POST',
      `/audio/${audio.id}/transcriptions`,
      {
        engine: 'demo-engine',
        language: 'en',
        segments: demo.call.map(([speaker, text], i) => ({
          start: i * 3,
          end: i * 3 + 2.5,
          speaker,
          text,
          confidence: 0.9,
        })),
      },
    );
    summary.transcriptions += 1;
    await api.send('POST', `/transcriptions/${transcription.id}/analysis`, {
      engine: 'demo-analyser',
      summary: `${demo.call[0][0]} and ${demo.call[1][0]}: ${demo.description}`,
      sentiment: demo.sentiment,
      sentimentScore:
        demo.sentiment === 'negative' ? -0.6 : demo.sentiment === 'positive' ? 0.7 : 0,
    });
    summary.analyses += 1;
  }
  log(`created ${summary.cases} cases with audio, transcriptions and analyses`);

  const conversation = await api.send<{ id: string }>('POST', '/conversations', {
    name: `demo-emergency-call-${randomBytes(3).toString('hex')}`,
    caseId: firstCase,
  });
  const start = Date.now() - LIVE_TURNS.length * 4000;
  await api.send('POST', `/conversations/${conversation.id}/turns`, {
    turns: LIVE_TURNS.map(([speaker, rawText], i) => ({
      messageNumber: i + 1,
      speaker,
      rawText,
      spokenAt: new Date(start + i * 4000).toISOString(),
      confidence: 0.8 + (i % 3) * 0.05,
    })),
  });
  // The workers persist them in the background; wait for it, so nothing is left buffered
  // when the seeding instance stops.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = await api.send<{ turnsCount: number }>('GET', `/conversations/${conversation.id}`);
    summary.conversationTurns = view.turnsCount;
    if (view.turnsCount >= LIVE_TURNS.length || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  log(`created a live conversation with ${summary.conversationTurns} persisted turns`);
  return summary;
}
