import { FAULT_TARGETS, runFaultScenario } from './scenario';

// A reduced fault run for every test run; `./scripts/faults.sh` runs the full 200 (README).
const PROMOTIONS = Number(process.env.MODELGATE_FAULTS_PROMOTIONS ?? 20);
const SEED = Number(process.env.MODELGATE_FAULTS_SEED ?? Date.now() % 1_000_000);

jest.setTimeout(480_000);

// The run brings its own Temporal dev server (with a database file it can kill and reopen), so the
// suite's second pass against Temporal on PostgreSQL (MODELGATE_TEST_TEMPORAL=postgres) would only repeat it.
const describeOnce = process.env.MODELGATE_TEST_TEMPORAL === 'postgres' ? describe.skip : describe;

describeOnce('promotions under SIGKILL of the worker, the API, Temporal and PostgreSQL', () => {
  it(`${PROMOTIONS} promotions end as their decisions imply, each decision and deployment exactly once, every audit chain intact`, async () => {
    const report = await runFaultScenario({
      promotions: PROMOTIONS,
      concurrency: 6,
      seed: SEED,
      gapMs: [1_500, 5_000],
      downMs: [300, 2_500],
      repeatShare: 0.3,
      timeoutMs: 360_000,
    });
    // The seed and the figures, so that a failing run can be repeated (MODELGATE_FAULTS_SEED).
    expect({ seed: report.seed, violations: report.violations }).toEqual({ seed: SEED, violations: [] });
    for (const target of FAULT_TARGETS) expect(report.kills[target]).toBeGreaterThan(0);
    expect(report.driving.repeats).toBeGreaterThan(0);
  });
});
