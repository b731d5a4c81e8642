import type { TrainingEnergy } from '../contracts/payloads';
import { CRITERIA, CRITERION_NAMES } from '../ml/criteria';
import type { Metrics, Verdict } from '../ml/policy';
import type { FairnessReport } from '../ml/quality';
import type { GroupErrorReport } from '../ml/task-quality';
import { calibrationChart, confusionChart, fairnessChart, groupErrorChart, histogramChart, predictedVsActualChart, prChart, residualChart, rocChart, toSvg, type Series } from './charts';

export interface VersionReport extends Series {
  version: number;
  metrics: Metrics;
  modelSha256: string;
  infra: { passed: boolean; reason: string };
  /** What training this version drew and cost; null for versions trained before energy was metered. */
  energy: TrainingEnergy | null;
}

export interface ReportInput {
  model: string;
  snapshotSha256: string;
  testRows: number;
  threshold: number;
  candidate: VersionReport;
  champion?: VersionReport;
  verdict: Verdict;
  generatedAt: string;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(4));

function fairnessTable(f: FairnessReport, version: string): string {
  const rows = f.groups
    .map((g) => `<tr><td>${esc(g.group)}</td><td>${g.rows}</td><td>${num(g.positiveRate)}</td><td>${num(g.tpr)}</td><td>${num(g.fpr)}</td><td>${g.measurable ? 'measured' : esc(g.note)}</td></tr>`)
    .join('');
  return `<table><caption>${esc(version)}: ${esc(f.attribute)} — demographic parity difference ${num(f.demographicParityDiff)}, equal opportunity difference ${num(f.equalOpportunityDiff)}, disparate impact ratio ${num(f.disparateImpactRatio)} (four-fifths rule ${f.fourFifthsRule ? 'met' : 'NOT met'})</caption>
<thead><tr><th>group</th><th>rows</th><th>positive rate</th><th>TPR</th><th>FPR</th><th>status</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function groupErrorTable(g: GroupErrorReport, version: string): string {
  const metrics = Object.keys(g.groups[0]?.values ?? {});
  const rows = g.groups.map((x) => `<tr><td>${esc(x.group)}</td><td>${x.rows}</td>${metrics.map((m) => `<td>${num(x.values[m])}</td>`).join('')}<td>${x.measurable ? 'measured' : esc(x.note)}</td></tr>`).join('');
  const gaps = Object.entries(g.gaps).map(([k, v]) => `${esc(k)} ${num(v)}`).join(', ');
  return `<table><caption>${esc(version)}: ${esc(g.attribute)} — ${gaps}</caption>
<thead><tr><th>group</th><th>rows</th>${metrics.map((m) => `<th>${esc(m)}</th>`).join('')}<th>status</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const sig = (v: number, digits: number) => (v === 0 ? '0' : v.toPrecision(digits));

function energyRow(v: VersionReport): string {
  const e = v.energy;
  if (!e) return `<tr><td>${esc(v.name)}</td><td colspan="4">not metered (trained before energy accounting)</td></tr>`;
  const cost = e.cost === null ? `unknown: ${esc(e.costError)}` : `${sig(e.cost, 3)} ${esc(e.currency)}`;
  return `<tr><td>${esc(v.name)}</td><td>${sig(e.kWh, 3)}</td><td>${num(e.avgPowerW)}</td><td>${cost}</td><td>${e.estimated ? 'ESTIMATE' : 'measured'} (${esc(e.source)}): ${esc(e.method)}; price: ${esc(e.priceSource)}</td></tr>`;
}

/** A self-contained HTML page (inline SVG charts, no scripts) comparing a candidate with the champion. */
export async function renderReport(r: ReportInput): Promise<string> {
  const series = [r.candidate, ...(r.champion ? [r.champion] : [])];
  const task = r.candidate.charts.task;
  const accuracy = task === 'binary' ? [rocChart(series), prChart(series), calibrationChart(series), histogramChart(series)] : task === 'regression' ? [predictedVsActualChart(series), residualChart(series)] : [confusionChart(series)];
  const bias = task === 'binary' ? r.candidate.fairness.map((f) => fairnessChart(series, f.attribute)) : r.candidate.groupErrors.map((g) => groupErrorChart(series, g.attribute));
  const charts = await Promise.all([...accuracy, ...bias].map(toSvg));
  const verdictRows = r.verdict.criteria
    .map((c) => `<tr class="${c.passed ? 'pass' : c.hard ? 'fail' : 'warn'}"><td>${esc(c.group)}</td><td>${esc(c.name)}</td><td>${num(c.value)}</td><td>${num(c.limit)}</td><td>${c.passed ? 'pass' : c.hard ? 'FAIL' : 'warn'}</td><td>${esc(c.reason)}</td></tr>`)
    .join('');
  const metricRows = CRITERION_NAMES.filter((m) => r.candidate.metrics[m] !== undefined).map(
    (m) => `<tr><td>${esc(CRITERIA[m].group)}</td><td>${esc(CRITERIA[m].label)}</td><td>${num(r.candidate.metrics[m])}</td><td>${r.champion ? num(r.champion.metrics[m]) : '–'}</td></tr>`,
  ).join('');
  const title = `${r.model}: ${r.candidate.name}${r.champion ? ` vs ${r.champion.name}` : ''}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1rem 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
caption{text-align:left;font-weight:600;padding:4px 0}
tr.pass td:nth-child(5){color:#16794c} tr.fail td{background:#fde8e8} tr.warn td{background:#fff6db}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
.verdict{font-size:1.2rem;font-weight:700} .verdict.ok{color:#16794c} .verdict.bad{color:#b42318}
code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>${esc(title)}</h1>
<p>Held-out test split of snapshot <code>${esc(r.snapshotSha256)}</code> (${r.testRows} rows)${task === 'binary' ? `; decision threshold ${r.threshold}` : ''}. Candidate model <code>${esc(r.candidate.modelSha256)}</code>${r.champion ? `, champion model <code>${esc(r.champion.modelSha256)}</code>` : ''}. Generated ${esc(r.generatedAt)}.</p>
<p class="verdict ${r.verdict.passed ? 'ok' : 'bad'}">Verdict: ${r.verdict.passed ? 'passes the policy' : 'fails the policy'}</p>
${r.verdict.failures.length ? `<ul>${r.verdict.failures.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : ''}
${r.verdict.warnings.length ? `<p>Advisory warnings:</p><ul>${r.verdict.warnings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : ''}
<h2>Criteria</h2>
<table><thead><tr><th>group</th><th>criterion</th><th>value</th><th>limit</th><th>result</th><th>why</th></tr></thead><tbody>${verdictRows}</tbody></table>
<h2>Candidate vs champion</h2>
<table><thead><tr><th>group</th><th>metric</th><th>${esc(r.candidate.name)}</th><th>${r.champion ? esc(r.champion.name) : 'champion'}</th></tr></thead><tbody>${metricRows}</tbody></table>
<p>Infra validation: ${esc(r.candidate.name)} — ${esc(r.candidate.infra.reason)}</p>
<h2>Training energy</h2>
<table><thead><tr><th>version</th><th>kWh</th><th>avg power W</th><th>cost</th><th>how it was obtained</th></tr></thead><tbody>${series.map(energyRow).join('')}</tbody></table>
<h2>${task === 'binary' ? 'Accuracy and calibration' : 'Accuracy'}</h2>
<div class="charts">${charts.slice(0, accuracy.length).join('\n')}</div>
<h2>Bias</h2>
<div class="charts">${charts.slice(accuracy.length).join('\n')}</div>
${series.flatMap((s) => [...s.fairness.map((f) => fairnessTable(f, s.name)), ...s.groupErrors.map((g) => groupErrorTable(g, s.name))]).join('\n')}
</body></html>`;
}
