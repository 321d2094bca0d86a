/**
 * The early campaign of a follower told that its leader's connections closed (Replica.peerDown),
 * shared by the cores that take the hint.
 *
 * It campaigns within 1..J ticks, drawn from its own random source, J a tenth of the election
 * timeout and at least PEER_DOWN_CAMPAIGN_MIN_JITTER_TICKS: followers that all saw the close at
 * once rarely campaign within a message's trip of each other (both would win the pre-vote and
 * split the real one, and wait a whole timeout more).
 */
export const PEER_DOWN_CAMPAIGN_MIN_JITTER_TICKS = 2;
/** The largest peer-down jitter is the election timeout divided by this. */
export const PEER_DOWN_CAMPAIGN_JITTER_TIMEOUT_DIVISOR = 10;

/** J above, for an election timeout of `electionTimeoutTicks`. */
export function peerDownJitterTicks(electionTimeoutTicks: number): number {
  return Math.max(PEER_DOWN_CAMPAIGN_MIN_JITTER_TICKS, Math.ceil(electionTimeoutTicks / PEER_DOWN_CAMPAIGN_JITTER_TIMEOUT_DIVISOR));
}
