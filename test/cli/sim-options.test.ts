/**
 * `quorate sim --protocol-option`: options a protocol declares pass through; a name the
 * protocol does not have is refused with the names it has (it used to be ignored silently, so
 * a typo ran the defaults while the user believed otherwise).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProtocolOptions } from '../../src/cli/commands/sim.js';
import { protocolByName } from '../../src/protocols/registry.js';

describe('quorate sim --protocol-option', () => {
  it('passes declared options through, numbers and booleans as such', () => {
    const raft = protocolByName('raft');
    assert.deepEqual(parseProtocolOptions(['electionTimeoutTicks=20', 'preVote=false'], raft.optionNames, 'raft'), { electionTimeoutTicks: 20, preVote: false });
    const paxos = protocolByName('multipaxos');
    assert.deepEqual(parseProtocolOptions(['phase1QuorumSize=4'], paxos.optionNames, 'multipaxos'), { phase1QuorumSize: 4 });
    const pbft = protocolByName('pbft');
    assert.deepEqual(parseProtocolOptions(['checkpointIntervalSeqs=8'], pbft.optionNames, 'pbft'), { checkpointIntervalSeqs: 8 });
  });

  it('refuses a name the protocol does not declare, and lists the ones it does', () => {
    const paxos = protocolByName('multipaxos');
    assert.throws(() => parseProtocolOptions(['phase1QuorumSise=4'], paxos.optionNames, 'multipaxos'), /multipaxos has no option 'phase1QuorumSise'; known: .*phase1QuorumSize/);
    const raft = protocolByName('raft');
    assert.throws(() => parseProtocolOptions(['phase1QuorumSize=4'], raft.optionNames, 'raft'), /raft has no option 'phase1QuorumSize'/);
  });
});
