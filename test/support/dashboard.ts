import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The Grafana dashboard in the repository (deploy/grafana/modelgate-dashboard.json). */
export const DASHBOARD_FILE = path.resolve(__dirname, '..', '..', 'deploy', 'grafana', 'modelgate-dashboard.json');

/** Every metric name the dashboard's queries read whose name starts with `prefix` (e.g. `temporal_`). */
export function dashboardMetrics(prefix: string): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  const names = new Set<string>();
  for (const target of dashboard.panels.flatMap((p) => p.targets)) {
    for (const match of target.expr.matchAll(/\b([a-z_:][a-z0-9_:]*)\b(?=\s*[[{)]|\s*$)/g)) {
      if (match[1]!.startsWith(prefix)) names.add(match[1]!);
    }
  }
  return [...names].sort();
}

/** The sample names of a Prometheus text exposition. */
export function exposedMetrics(text: string): Set<string> {
  return new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? ''));
}
