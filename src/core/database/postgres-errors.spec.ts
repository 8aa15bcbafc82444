import { isDependencyOutage, isRefusedData } from './postgres-errors';

const pgError = (code: string) => Object.assign(new Error('x'), { driverError: { code }, code });

describe('isRefusedData', () => {
  it('is true only for data exceptions and integrity violations', () => {
    expect(isRefusedData(pgError('22001'))).toBe(true);
    expect(isRefusedData(pgError('23502'))).toBe(true);
    for (const transient of ['40P01', '40001', '57014', '53300', '08006', '42P01']) {
      expect(isRefusedData(pgError(transient))).toBe(false);
    }
    expect(isRefusedData(new Error('no code'))).toBe(false);
  });
});

describe('isDependencyOutage', () => {
  it('recognises connection failures by code and by message', () => {
    expect(isDependencyOutage(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(
      true,
    );
    expect(isDependencyOutage(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDependencyOutage(pgError('23505'))).toBe(false);
  });
});
