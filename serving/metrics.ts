import { Counter, Histogram } from 'prom-client';
import { registry } from '../config/metrics';

/** Requests counted since the last scrape, by label set (see requestsCounted). */
const uncounted: { labels: Record<'model' | 'version' | 'role' | 'code', string>; n: number }[] = [];

export const servingMetrics = {
  requests: new Counter({
    name: 'serving_requests_total',
    help: 'Prediction requests',
    labelNames: ['model', 'version', 'role', 'code'],
    registers: [registry],
    collect() {
      for (const c of uncounted) {
        if (c.n > 0) this.inc(c.labels, c.n);
        c.n = 0;
      }
    },
  }),
  latency: new Histogram({
    name: 'serving_request_seconds',
    help: 'Prediction request latency',
    labelNames: ['model', 'version', 'role'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  }),
  batchRows: new Histogram({ name: 'serving_batch_rows', help: 'Rows per ONNX Runtime call', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers: [registry] }),
  swaps: new Counter({ name: 'serving_swaps_total', help: 'Champion versions swapped in', labelNames: ['model'], registers: [registry] }),
  loadFailures: new Counter({ name: 'serving_load_failures_total', help: 'Refreshes in which a model could not be loaded (corrupt bytes, a session that would not start)', labelNames: ['model'], registers: [registry] }),
  rollbacks: new Counter({ name: 'serving_rollbacks_total', help: 'Rollout candidates withdrawn without becoming champion', labelNames: ['model'], registers: [registry] }),
  shadowDropped: new Counter({ name: 'serving_shadow_dropped_total', help: 'Sampled shadow copies refused because the candidate had a full queue of copies to score', labelNames: ['model'], registers: [registry] }),
  logged: new Counter({ name: 'serving_prediction_log_rows_total', help: 'Prediction-log rows written', registers: [registry] }),
  logDropped: new Counter({ name: 'serving_prediction_log_dropped_total', help: 'Prediction-log rows dropped because the buffer was full or a write failed', registers: [registry] }),
};

/**
 * What counts one label set (prom-client's child, or a count of our own),
 * made once and kept: finding a child from a label object hashes the labels
 * on every request. Label values come from the registry
 * (served models, versions, roles), never from a request, so the set is bounded.
 */
function children<T>(make: (labels: string[]) => T): (...labels: string[]) => T {
  const made = new Map<string, T>();
  return (...labels) => {
    const key = labels.join('\n');
    let child = made.get(key);
    if (!child) made.set(key, (child = make(labels)));
    return child;
  };
}

/**
 * serving_requests_total by model, version, role, code: counted here and
 * added to the counter when it is read, since prom-client checks and hashes
 * the labels on every increment, and a replica counts every request.
 */
export const requestsCounted = children(([model, version, role, code]) => {
  const c = { labels: { model, version, role, code }, n: 0 };
  uncounted.push(c);
  return { inc: () => void c.n++ };
});
/** serving_request_seconds by model, version, role. */
export const latencyObserved = children((l) => servingMetrics.latency.labels(...l));
