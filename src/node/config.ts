/**
 * Configuration types of a node: how it reaches its peers and how it logs. The driver's limits
 * live with the driver (src/driver/limits.ts).
 */
import type { NodeId } from '../core/ids.js';
import type { PeerAddress } from '../transport/index.js';

export { silentLogger, type Logger, type LogLevel } from '../driver/ports.js';
export { DEFAULT_DRIVER_LIMITS, type DriverLimits } from '../driver/limits.js';

export interface MemberAddresses {
  readonly id: NodeId;
  /** Where peers reach this member. */
  readonly peer: PeerAddress;
}
