import { InProcessChangeBus } from '../../src/store/change-bus.js';
import { changeBusContract } from './change-bus-contract.js';

changeBusContract('InProcessChangeBus', () => {
  const bus = new InProcessChangeBus();
  return { publisher: bus, subscriber: bus };
});
