/**
 * Every Paxos scenario in testdata/, run through the interaction environment (see
 * test/protocols/README.md): `decree-*.txt` on single-decree Paxos, the others on Multi-Paxos.
 */
import { environment, runTestdata } from '../interaction/run-testdata.js';
import { DecreeAdapter } from './decree-interaction.js';
import { MultiPaxosAdapter } from './interaction.js';

runTestdata(import.meta.url, 'testdata', (file) => (file.startsWith('decree-') ? environment(new DecreeAdapter()) : environment(new MultiPaxosAdapter())));
