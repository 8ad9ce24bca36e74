/** Subscribe, GetEvents, GetStreamingEvents, Unsubscribe: not yet (answered as not supported). */
import { EwsError, type Operation } from '../call.js';

const notYet = (name: string): Operation => async () => {
  throw new EwsError('ErrorInvalidOperation', `${name} is not supported yet`);
};
export const subscribe = notYet('Subscribe');
export const getEvents = notYet('GetEvents');
export const unsubscribe = notYet('Unsubscribe');
export const getStreamingEvents = notYet('GetStreamingEvents');
