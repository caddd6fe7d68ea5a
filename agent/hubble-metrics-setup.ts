/**
 * The agent's Hubble metrics from its settings: `hubble-metrics` parsed (each part Ciliate cannot
 * honour logged, naming it, and left out) and, when any metric is enabled and
 * `hubble-metrics-server` is set, the endpoint serving them.
 */
import { HubbleMetrics } from '../hubble/metrics/hubble-metrics.ts';
import { parseMetricsConfig } from '../hubble/metrics/options.ts';
import { HttpEndpoint, metricsRoutes } from '../runtime/http-endpoint.ts';
import type { Logger } from '../runtime/logger.ts';
import type { AgentConfig } from './config/parse.ts';

/** The enabled metrics and their endpoint. */
export interface AgentHubbleMetrics {
  metrics: HubbleMetrics;
  endpoint: HttpEndpoint;
}

/** Builds the Hubble metrics `cfg` asks for; undefined when none is enabled or no address is set. */
export function hubbleMetricsFromConfig(cfg: Pick<AgentConfig, 'hubbleMetrics' | 'hubbleMetricsServer'>, log: Logger): AgentHubbleMetrics | undefined {
  const parsed = parseMetricsConfig(cfg.hubbleMetrics);
  for (const p of parsed.problems) log.warn(`setting hubble-metrics: ${p}`);
  if (parsed.metrics.length === 0) return undefined;
  if (!cfg.hubbleMetricsServer) {
    log.warn('setting hubble-metrics names metrics but hubble-metrics-server is empty; no Hubble metrics are served');
    return undefined;
  }
  const metrics = new HubbleMetrics(parsed.metrics);
  log.info('Hubble metrics enabled', { metrics: parsed.metrics.map((m) => m.name).join(' ') });
  return { metrics, endpoint: new HttpEndpoint('Hubble metrics', cfg.hubbleMetricsServer, metricsRoutes(metrics.registry), log) };
}
