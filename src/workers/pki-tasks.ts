import type { CaPem } from '../pki/ca-pem.js';

/** What the PKI worker receives once, at start (piscina `workerData`). */
export interface PkiWorkerData {
  /** The CA, checked and normalized (key as PKCS#8) by the pool before start. */
  ca: CaPem;
}

/** Names of the handlers `pki-worker.ts` exports, used as piscina task names. */
export type PkiTaskName = 'issueServingCert' | 'issueClientCert';
