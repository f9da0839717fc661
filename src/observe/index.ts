/** Reading a pool: one cold snapshot, then kept current by events. */
export { takeSnapshot, currentToken } from './snapshot.js';
export { PoolObserver, type PoolObserverOptions, type ResyncInfo } from './observer.js';
export { diffStates, hostAddresses, type ObservedChange } from './diff.js';
