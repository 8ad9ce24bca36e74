import { InProcessState } from '../../src/shared-state/in-process-state.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { sharedStateContract } from './shared-state-contract.js';

sharedStateContract('InProcessState', async () => {
  const clock = new ManualClock();
  return { state: new InProcessState(clock), advance: async (ms) => clock.advance(ms) };
});
