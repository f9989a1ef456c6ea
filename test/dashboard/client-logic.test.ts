// Pure logic of the dashboard's browser code: formatting, routes, what a reviewer is offered.
import { formatDuration, formatTimestamp, statusWords, timeLeft } from '../../web/src/format';
import { decidableGates, managerActions } from '../../web/src/permissions';
import { parseRoute } from '../../web/src/routes';
import type { Policy } from '../../src/policy/schema';
import { gateState, reviewState } from '../support/states';

describe('formatting', () => {
  it('writes durations at the precision that matters', () => {
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(12 * 60 + 30)).toBe('12m');
    expect(formatDuration(4 * 3600 + 5 * 60)).toBe('4h 05m');
    expect(formatDuration(2 * 86_400 + 3 * 3600 + 59)).toBe('2d 3h');
    expect(formatDuration(Number.NaN)).toBe('–');
  });

  it('says how long is left, or by how much a deadline is overdue', () => {
    const now = Date.parse('2026-11-01T10:00:00Z');
    expect(timeLeft('2026-11-01T13:59:00Z', now)).toEqual({ text: '3h 59m left', overdue: false, seconds: 3 * 3600 + 59 * 60 });
    expect(timeLeft('2026-11-01T09:55:00Z', now)).toMatchObject({ text: 'overdue by 5m', overdue: true });
    expect(timeLeft('not a date', now).text).toBe('–');
  });

  it('writes timestamps sortably in local time, and statuses as words', () => {
    expect(formatTimestamp(new Date(2026, 10, 1, 9, 5, 7).toISOString())).toBe('2026-11-01 09:05:07');
    expect(formatTimestamp(undefined)).toBe('–');
    expect(statusWords('CHANGES_REQUESTED')).toBe('changes requested');
  });
});

describe('routes', () => {
  it('reads pages, filters and promotion ids (which contain ":") from the hash', () => {
    expect(parseRoute('')).toEqual({ page: 'queue' });
    expect(parseRoute('#/queue/')).toEqual({ page: 'queue' });
    const list = parseRoute('#/promotions?status=IN_REVIEW&tier=high');
    expect(list.page === 'promotions' && list.query.get('tier')).toBe('high');
    expect(parseRoute(`#/promotions/${encodeURIComponent('promote:fraud:1.2.0:production')}`)).toEqual({
      page: 'promotion',
      promotionId: 'promote:fraud:1.2.0:production',
    });
    expect(parseRoute('#/promotions/%E0%A4%A')).toMatchObject({ page: 'not-found' });
    expect(parseRoute('#/elsewhere')).toEqual({ page: 'not-found', path: '/elsewhere' });
  });
});

describe('what a reviewer is offered', () => {
  const overrides = { waiveCheck: ['risk-manager'], forceGate: ['risk-manager'], expedite: ['ml-manager', 'risk-manager'], withdraw: ['admin'] };
  const policy = { separationOfDuties: { allowSamePersonOnMultipleGates: false }, overrides } as unknown as Policy;
  const state = reviewState([[gateState('technical'), gateState('security', { status: 'approved' })]]);

  it('offers a decision on open gates of the reviewer’s roles, warning when separation of duties will refuse it', () => {
    expect(decidableGates(state, { id: 'rita', roles: ['technical-reviewer'] }, policy)).toEqual([{ gate: state.stages[0]!.gates[0] }]);
    expect(decidableGates(state, { id: 'rita', roles: ['security-reviewer'] }, policy)).toEqual([]);
    const own = decidableGates(state, { id: 'sam', roles: ['technical-reviewer'] }, policy);
    expect(own[0]!.separationWarning).toMatch(/^separation of duties: sam submitted this promotion/);
  });

  it('offers overrides and expedite only to the policy’s roles, and only where the state allows them', () => {
    const rick = { id: 'rick', roles: ['risk-manager'] };
    expect(managerActions(state, rick, policy)).toEqual({ waivableChecks: [], forcibleGates: ['technical'], canExpedite: true, holdsManagerRole: true });
    expect(managerActions(state, { id: 'max', roles: ['ml-manager'] }, policy)).toEqual({ waivableChecks: [], forcibleGates: [], canExpedite: true, holdsManagerRole: true });
    expect(managerActions(state, { id: 'rita', roles: ['technical-reviewer'] }, policy).holdsManagerRole).toBe(false);
    const expedited = { ...state, expedited: { by: 'max', reason: 'r', at: '2026-11-01T10:00:00Z' } };
    expect(managerActions(expedited, rick, policy).canExpedite).toBe(false);
    const failed = reviewState([], {
      status: 'CHECKS_FAILED',
      checks: [{ name: 'performance', status: 'fail', required: true, summary: '', findings: [], metrics: {}, durationMs: 1 }],
    });
    expect(managerActions(failed, rick, policy)).toMatchObject({ waivableChecks: ['performance'], forcibleGates: [] });
    expect(managerActions(state, rick, undefined).holdsManagerRole).toBe(false);
  });
});
