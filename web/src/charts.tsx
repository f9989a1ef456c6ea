// Horizontal bar charts drawn with Observable Plot (SVG, bundled), each with a text summary for
// screen readers and a data table beside it.
import * as Plot from '@observablehq/plot';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** One bar (or one segment of a stacked bar). */
export interface Bar {
  /** Row label. */
  label: string;
  value: number;
  /** Segment name of a stacked bar (e.g. `fail`, `error`); also the colour key. */
  series?: string;
  /** Tooltip text of the bar. */
  title: string;
  /** A second value drawn as a tick on the bar (e.g. the 90th percentile). */
  tick?: number;
}

/** What {@link BarChart} draws. */
export interface BarChartProps {
  /** Stable id (tests and anchors): `data-chart` of the figure. */
  id: string;
  title: string;
  /** One sentence that says what the chart shows, read by screen readers. */
  description: string;
  bars: Bar[];
  /** Label of the value axis. */
  valueLabel: string;
  formatValue?: (value: number) => string;
  /** Colours by `series` (else one colour). */
  colors?: Record<string, string>;
  /** Several series per row, stacked, with a legend (else one bar per row, labelled with its value). */
  stacked?: boolean;
  /** The values are counts (whole-number ticks). */
  counts?: boolean;
  /** Shown instead of an empty chart. */
  empty: string;
  /** The data table (rendered in a disclosure under the chart). */
  table: ComponentChildren;
}

const DEFAULT_COLOR = '#2563eb';

/** The length of each row's bar (the sum of its segments). */
function stackedTotals(bars: Bar[]): number[] {
  const totals = new Map<string, number>();
  for (const bar of bars) totals.set(bar.label, (totals.get(bar.label) ?? 0) + bar.value);
  return [...totals.values()];
}

/** A horizontal bar chart that redraws only when its data changes. */
export function BarChart(props: BarChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const signature = JSON.stringify([props.bars, props.colors, props.stacked, props.counts, props.valueLabel]);
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    element.replaceChildren();
    if (props.bars.length === 0) return;
    const format = props.formatValue ?? ((v: number) => String(v));
    const labels = [...new Set(props.bars.map((b) => b.label))];
    const series = props.colors ? Object.keys(props.colors) : undefined;
    const plot = Plot.plot({
      width: Math.max(320, element.clientWidth || 560),
      height: 40 + labels.length * 28,
      marginLeft: Math.min(280, 24 + Math.max(...labels.map((l) => l.length)) * 7.5),
      marginRight: 56,
      style: { fontSize: '13px', background: 'transparent' },
      x: {
        label: props.valueLabel,
        grid: true,
        tickFormat: format,
        nice: true,
        // Counts have whole-number ticks only.
        ...(props.counts ? { ticks: Math.max(1, Math.min(10, Math.max(...stackedTotals(props.bars)))) } : {}),
      },
      y: { label: null, domain: labels },
      color: series ? { domain: series, range: series.map((s) => props.colors![s]!), legend: !!props.stacked } : undefined,
      ariaLabel: props.title,
      ariaDescription: props.description,
      marks: [
        Plot.barX(props.bars, {
          x: 'value',
          y: 'label',
          fill: series ? 'series' : DEFAULT_COLOR,
          title: 'title',
          ariaLabel: (b: Bar) => b.title,
        }),
        ...(props.bars.some((b) => b.tick !== undefined)
          ? [Plot.tickX(props.bars.filter((b) => b.tick !== undefined), { x: 'tick', y: 'label', stroke: '#111827', strokeWidth: 2, title: (b: Bar) => `90th percentile ${format(b.tick!)}` })]
          : []),
        Plot.text(
          props.stacked ? [] : props.bars,
          { x: 'value', y: 'label', text: (b: Bar) => format(b.value), dx: 6, textAnchor: 'start', fill: 'currentColor' },
        ),
        Plot.ruleX([0]),
      ],
    });
    element.append(plot);
    return () => plot.remove();
  }, [signature]);

  return (
    <figure class="chart" data-chart={props.id} aria-labelledby={`${props.id}-title`}>
      <figcaption id={`${props.id}-title`}>
        <strong>{props.title}</strong>
        <span class="muted"> — {props.description}</span>
      </figcaption>
      {props.bars.length === 0 ? <p class="muted empty">{props.empty}</p> : <div class="chart-canvas" ref={container} />}
      <details>
        <summary>Data table</summary>
        {props.table}
      </details>
    </figure>
  );
}
