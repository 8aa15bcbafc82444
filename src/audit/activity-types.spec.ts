import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ACTIVITY_TYPES, AUDIT_ACTIONS, AuditAction } from './activity-types';
import { AuditEvent } from './audit.service';

/** Every catalogue file under `actions/`, as it exports it. */
function catalogues(): { file: string; codes: string[] }[] {
  const dir = join(__dirname, 'actions');
  const found: { file: string; codes: string[] }[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.ts') || file.endsWith('.spec.ts')) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- found at run time
    const exported = require(join(dir, file)) as Record<string, unknown>;
    for (const value of Object.values(exported)) {
      if (value && typeof value === 'object') {
        found.push({ file, codes: Object.keys(value) });
      }
    }
  }
  return found;
}

describe('typed audit actions (issue 12)', () => {
  it('gathers every module catalogue: each declared action is an AuditAction', () => {
    const found = catalogues();
    expect(found.length).toBeGreaterThanOrEqual(6);
    const declared = new Set(AUDIT_ACTIONS);
    for (const { file, codes } of found) {
      expect({ file, missing: codes.filter((code) => !declared.has(code as AuditAction)) }).toEqual(
        {
          file,
          missing: [],
        },
      );
    }
    expect(new Set(found.flatMap((c) => c.codes))).toEqual(declared);
  });

  it('declares each action once, with a description, within the column width', () => {
    for (const [code, description] of Object.entries(ACTIVITY_TYPES)) {
      expect(code).toMatch(/^[a-z_]+\.[a-z_]+$/);
      expect(code.length).toBeLessThanOrEqual(64);
      expect(description.length).toBeGreaterThan(0);
    }
  });

  it('refuses a misspelt action at compile time', () => {
    const typed: AuditEvent = { action: 'case.create' };
    // @ts-expect-error -- not a declared action: this line stops compiling if action were a string
    const misspelt: AuditEvent = { action: 'case.craete' };
    expect([typed.action, misspelt.action]).toEqual(['case.create', 'case.craete']);
  });
});
