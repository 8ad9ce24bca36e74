import { InProcessAccounting } from '../../src/governor/in-process-accounting.js';
import { ManualClock } from '../../src/shared-state/clock.js';
import { sessionAccountingContract } from '../conformance/session-accounting.js';

sessionAccountingContract('InProcessAccounting', async () => {
  const clock = new ManualClock();
  return { accounting: new InProcessAccounting(clock), advance: async (ms) => clock.advance(ms), now: () => clock.now() };
});
