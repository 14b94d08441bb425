// The CLI reports the same version the result rows record.
export { paiVersion } from '../experiment/version.js';
