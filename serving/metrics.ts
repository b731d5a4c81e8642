import { Counter, Histogram } from 'prom-client';
import { registry } from '../config/metrics';

export const servingMetrics = {
  requests: new Counter({ name: 'serving_requests_total', help: 'Prediction requests', labelNames: ['model', 'version', 'code'], registers: [registry] }),
  latency: new Histogram({
    name: 'serving_request_seconds',
    help: 'Prediction request latency',
    labelNames: ['model', 'version'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  }),
  batchRows: new Histogram({ name: 'serving_batch_rows', help: 'Rows per ONNX Runtime call', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers: [registry] }),
  swaps: new Counter({ name: 'serving_swaps_total', help: 'Champion versions swapped in', labelNames: ['model'], registers: [registry] }),
};
