import type { TaskCharts } from '../ml/measure';
import type { Curves, FairnessReport } from '../ml/quality';
import type { GroupErrorReport } from '../ml/task-quality';

/** Vega-Lite specs for the evaluation report, rendered to SVG on the server by Vega. */
type Spec = Record<string, unknown>;

export interface Series {
  name: string;
  charts: TaskCharts;
  fairness: FairnessReport[];
  groupErrors: GroupErrorReport[];
}

/** The binary versions' curves (a report compares versions of one model, so all or none). */
const binary = (series: Series[]): { name: string; curves: Curves }[] => series.flatMap((s) => (s.charts.task === 'binary' ? [{ name: s.name, curves: s.charts.curves }] : []));

const size = { width: 320, height: 260 };
const diagonal = { data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }, mark: { type: 'line', strokeDash: [4, 4], color: '#999' }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } };

export function rocChart(series: Series[]): Spec {
  return {
    ...size,
    title: 'ROC curve',
    layer: [
      diagonal,
      {
        data: { values: binary(series).flatMap((s) => s.curves.roc.map((p) => ({ ...p, version: s.name }))) },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false positive rate', scale: { domain: [0, 1] } },
          y: { field: 'tpr', type: 'quantitative', title: 'true positive rate', scale: { domain: [0, 1] } },
          color: { field: 'version', type: 'nominal', title: null },
        },
      },
    ],
  };
}

export function prChart(series: Series[]): Spec {
  return {
    ...size,
    title: 'Precision–recall curve',
    data: { values: binary(series).flatMap((s) => s.curves.pr.map((p) => ({ ...p, version: s.name }))) },
    mark: 'line',
    encoding: {
      x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] } },
      y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1] } },
      color: { field: 'version', type: 'nominal', title: null },
    },
  };
}

export function calibrationChart(series: Series[]): Spec {
  return {
    ...size,
    title: 'Calibration (10 bins)',
    layer: [
      diagonal,
      {
        data: { values: binary(series).flatMap((s) => s.curves.calibration.map((b) => ({ ...b, version: s.name }))) },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'meanScore', type: 'quantitative', title: 'mean predicted probability', scale: { domain: [0, 1] } },
          y: { field: 'observedRate', type: 'quantitative', title: 'observed default rate', scale: { domain: [0, 1] } },
          color: { field: 'version', type: 'nominal', title: null },
          tooltip: [{ field: 'rows', type: 'quantitative' }],
        },
      },
    ],
  };
}

export function histogramChart(series: Series[]): Spec {
  return {
    title: 'Score distribution by true label',
    data: { values: binary(series).flatMap((s) => s.curves.histogram.map((h) => ({ ...h, version: s.name, label: h.label === 1 ? 'default' : 'no default' }))) },
    mark: 'bar',
    encoding: {
      column: { field: 'version', type: 'nominal', title: null },
      x: { field: 'from', type: 'quantitative', bin: { binned: true, step: 0.05 }, title: 'predicted probability' },
      x2: { field: 'to' },
      y: { field: 'rows', type: 'quantitative', stack: true },
      color: { field: 'label', type: 'nominal', title: null },
    },
    width: 260,
    height: 200,
  };
}

/** Bars per group and version, one panel per measure: the bias charts of every task. */
function groupBars(title: string, values: { version: string; group: string; measure: string; value: number }[], y: Record<string, unknown>, extra: Spec = {}): Spec {
  return {
    title,
    data: { values },
    mark: 'bar',
    encoding: {
      column: { field: 'measure', type: 'nominal', title: null },
      x: { field: 'group', type: 'nominal', title: null, axis: { labelAngle: -30 } },
      xOffset: { field: 'version' },
      y: { field: 'value', type: 'quantitative', ...y },
      color: { field: 'version', type: 'nominal', title: null },
    },
    ...extra,
    width: 200,
    height: 180,
  };
}

export function fairnessChart(series: Series[], attribute: string): Spec {
  const values = series.flatMap((s) =>
    (s.fairness.find((f) => f.attribute === attribute)?.groups ?? []).flatMap((g) =>
      (['positiveRate', 'tpr', 'fpr'] as const).map((measure) => ({ version: s.name, group: `${g.group} (n=${g.rows})`, measure, value: Number.isFinite(g[measure]) ? g[measure] : 0 })),
    ),
  );
  return groupBars(`Group rates: ${attribute}`, values, { scale: { domain: [0, 1] } });
}

const points = (series: Series[]) =>
  series.flatMap((s) => (s.charts.task === 'regression' ? s.charts.points.map((p) => ({ ...p, residual: p.predicted - p.actual, version: s.name })) : []));

/** A regression's held-out rows as points, x against y, one colour per version. */
function scatter(series: Series[], title: string, x: string, y: Record<string, unknown>): Spec {
  return {
    ...size,
    title,
    data: { values: points(series) },
    mark: { type: 'point', opacity: 0.35, size: 12 },
    encoding: {
      x: { field: x, type: 'quantitative' },
      y: { type: 'quantitative', ...y },
      color: { field: 'version', type: 'nominal', title: null },
    },
  };
}

export const predictedVsActualChart = (series: Series[]): Spec => scatter(series, 'Predicted vs actual', 'actual', { field: 'predicted' });
export const residualChart = (series: Series[]): Spec => scatter(series, 'Residuals vs predicted', 'predicted', { field: 'residual', title: 'predicted − actual' });

export function confusionChart(series: Series[]): Spec {
  const values = series.flatMap((s) =>
    s.charts.task === 'multiclass' ? (({ classes, confusion }) => confusion.flatMap((row, a) => row.map((rows, p) => ({ version: s.name, actual: classes[a], predicted: classes[p], rows }))))(s.charts) : [],
  );
  return {
    title: 'Confusion matrix (held-out rows)',
    data: { values },
    facet: { column: { field: 'version', type: 'nominal', title: null } },
    spec: {
      width: 240,
      height: 240,
      layer: [
        { mark: 'rect', encoding: { x: { field: 'predicted', type: 'ordinal', sort: null }, y: { field: 'actual', type: 'ordinal', sort: null }, color: { field: 'rows', type: 'quantitative', scale: { scheme: 'blues' } } } },
        { mark: { type: 'text', fontSize: 10 }, encoding: { x: { field: 'predicted', type: 'ordinal', sort: null }, y: { field: 'actual', type: 'ordinal', sort: null }, text: { field: 'rows', type: 'quantitative' } } },
      ],
    },
  };
}

export function groupErrorChart(series: Series[], attribute: string): Spec {
  const values = series.flatMap((s) =>
    (s.groupErrors.find((g) => g.attribute === attribute)?.groups ?? []).flatMap((g) =>
      Object.entries(g.values).map(([measure, value]) => ({ version: s.name, group: `${g.group} (n=${g.rows})`, measure, value: Number.isFinite(value) ? value : 0 })),
    ),
  );
  return groupBars(`Group errors: ${attribute}`, values, {}, { resolve: { scale: { y: 'independent' } } });
}

/** Vega and Vega-Lite are ES modules; this CommonJS project loads them on first use. */
export async function toSvg(spec: Spec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec } as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
