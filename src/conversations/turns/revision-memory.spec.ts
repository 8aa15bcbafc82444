import { RevisionMemory } from './revision-memory';
import type { StoredTurn } from './turns.repository';

const turn = (messageNumber: number, revision: number): StoredTurn =>
  ({ conversationId: 'c', messageNumber, revision }) as StoredTurn;

describe('RevisionMemory', () => {
  it('answers the latest revision remembered, never an older one over a newer', () => {
    const memory = new RevisionMemory<StoredTurn>({ maxEntries: 10, maxAgeMs: 1000 }, () => 0);
    memory.remember(turn(1, 3));
    memory.remember(turn(1, 2));
    expect(memory.get('c', 1)?.revision).toBe(3);
    memory.remember(turn(1, 4));
    expect(memory.get('c', 1)?.revision).toBe(4);
    expect(memory.get('c', 2)).toBeUndefined();
    memory.forget('c', 1);
    expect(memory.get('c', 1)).toBeUndefined();
  });

  it('drops entries past their age and the oldest beyond its size', () => {
    let now = 0;
    const memory = new RevisionMemory<StoredTurn>({ maxEntries: 2, maxAgeMs: 1000 }, () => now);
    memory.remember(turn(1, 2));
    memory.remember(turn(2, 2));
    memory.remember(turn(3, 2));
    expect(memory.size).toBe(2);
    expect(memory.get('c', 1)).toBeUndefined();
    expect(memory.get('c', 3)?.revision).toBe(2);
    now = 1001;
    expect(memory.get('c', 3)).toBeUndefined();
  });
});
