/**
 * Which members a transport refuses as removed, from the configurations its node shows, one after
 * another (PeerTransport.setPeers). The simulator's model of a transport (Simulation.peerViews)
 * keeps the same rule through this class, so the lab judges what ships.
 *
 * A member that leaves the shown set between two configurations that both show this member was
 * removed: refused until a configuration shows it again. A configuration without this member says
 * nothing of who was removed: a joining member that installs a snapshot taken before it was added is
 * briefly outside an older configuration, and must not take the members added since for removed
 * (it would refuse them for good).
 */
import type { NodeId } from '../core/ids.js';

export class RemovedMembers {
  private readonly removed = new Set<NodeId>();
  private shown: ReadonlySet<NodeId> = new Set();
  private selfShown = true;

  /** The members the node shows now, other than this one, and whether that configuration shows this member. */
  update(shown: Iterable<NodeId>, selfShown: boolean): void {
    const now = new Set(shown);
    if (selfShown && this.selfShown) for (const id of this.shown) if (!now.has(id)) this.removed.add(id);
    for (const id of now) this.removed.delete(id);
    this.shown = now;
    this.selfShown = selfShown;
  }

  has(id: NodeId): boolean {
    return this.removed.has(id);
  }
}
