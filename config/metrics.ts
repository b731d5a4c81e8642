import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The factory's Prometheus metrics; every worker process exposes its own at /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const metrics = {
  batches: new Counter({ name: 'factory_batches_total', help: 'Data batches offered, by outcome', labelNames: ['model', 'status'], registers: [registry] }),
  batchRows: new Counter({ name: 'factory_batch_rows_total', help: 'Rows in data batches, by outcome', labelNames: ['model', 'status'], registers: [registry] }),
  trainingSeconds: new Histogram({
    name: 'factory_training_seconds',
    help: 'Wall time of training runs',
    labelNames: ['model', 'trainer', 'outcome'],
    buckets: [1, 5, 15, 60, 300, 900, 3600, 14400],
    registers: [registry],
  }),
  candidateMetric: new Gauge({ name: 'factory_candidate_metric', help: 'Held-out metrics of the latest evaluated candidate', labelNames: ['model', 'metric'], registers: [registry] }),
  decisions: new Counter({ name: 'factory_decisions_total', help: 'Approval decisions', labelNames: ['model', 'decision', 'channel'], registers: [registry] }),
  rollouts: new Counter({ name: 'factory_rollouts_total', help: 'Finished rollouts, by outcome', labelNames: ['model', 'outcome'], registers: [registry] }),
  driftChecks: new Counter({ name: 'factory_drift_checks_total', help: 'Drift checks, by outcome', labelNames: ['model', 'outcome'], registers: [registry] }),
  promotions: new Counter({ name: 'factory_promotions_total', help: 'Champion alias moves', labelNames: ['model'], registers: [registry] }),
};

export function serveMetrics(port: number): http.Server {
  return http
    .createServer(async (req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
    })
    .listen(port, '0.0.0.0');
}
