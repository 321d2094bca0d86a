/**
 * The network and disk models `quorate compare` measures under, as simulator options. Every
 * engine runs under the same model with the same seed; only the protocol differs.
 */
import type { SimOptions } from '../sim/options.js';

export interface Model {
  readonly name: string;
  readonly description: string;
  readonly options: Partial<SimOptions>;
  /** Its runs measure this many times the usual stretch (a slow model completes fewer operations a second). */
  readonly windowScale?: number;
}

/** One-way delay exactly 1 ms, no jitter, no fsync cost: a latency in ms is a count of message delays. */
export const FIXED_DELAY: Model = {
  name: 'fixed',
  description: 'one-way delay exactly 1 ms, no jitter, fsync free: latencies count message delays',
  options: { latencyBaseMs: 1, latencyJitterMs: 0, syncLatencyMs: 0 },
};

/** One data centre: sub-millisecond links, an SSD's fsync. */
export const LAN: Model = {
  name: 'lan',
  description: 'one data centre: one-way delay 0.2–0.5 ms, fsync 1 ms',
  options: { latencyBaseMs: 0.2, latencyJitterMs: 0.3, syncLatencyMs: 1 },
};

/** Members in different availability zones of one region. */
export const ZONES: Model = {
  name: 'zones',
  description: 'availability zones of one region: one-way delay 1–2.5 ms, fsync 1 ms',
  options: { latencyBaseMs: 1, latencyJitterMs: 1.5, syncLatencyMs: 1 },
};

/**
 * Members in different regions. Timeouts scaled as an operator would (etcd's guidance: heartbeat
 * about the round trip, election timeout ten times it); clients wait long enough for a round trip.
 */
export const WAN: Model = {
  name: 'wan',
  description: 'regions apart: one-way delay 30–60 ms, fsync 1 ms; election timeout 1,500 ms, heartbeat 150 ms',
  options: { latencyBaseMs: 30, latencyJitterMs: 30, syncLatencyMs: 1, electionTimeoutMs: 1500, heartbeatIntervalMs: 150, clientTimeoutMs: 4000 },
  windowScale: 4,
};

export const MODELS: readonly Model[] = [FIXED_DELAY, LAN, ZONES, WAN];

/** The cost the model throughput charges a member per message it sends or receives (µs). */
export const MICROS_PER_MESSAGE = 10;
