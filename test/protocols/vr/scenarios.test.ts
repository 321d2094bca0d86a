/** Every VR scenario in testdata/, run through the interaction environment (see test/protocols/README.md). */
import { environment, runTestdata } from '../interaction/run-testdata.js';
import { VrAdapter } from './interaction.js';

runTestdata(import.meta.url, 'testdata', () => environment(new VrAdapter()));
