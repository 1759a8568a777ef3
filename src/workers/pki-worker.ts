/**
 * Piscina worker entry: issues certificates off the event loop. The CA comes
 * once per worker through `workerData` (see PkiPool); each task carries only
 * the request. Handlers are named exports; task names are `PkiTaskName`.
 */
import { workerData } from 'node:worker_threads';
import { importCa, type CertificateAuthority } from '../pki/ca.js';
import * as issue from '../pki/issue.js';
import type { ClientCertRequest, IssuedCert, ServingCertRequest } from '../pki/issue.js';
import type { PkiTaskName, PkiWorkerData } from './pki-tasks.js';

const data = workerData as PkiWorkerData;
let ca: Promise<CertificateAuthority> | undefined;

// Imported on first use: a rejection then belongs to a task, not the worker.
function authority(): Promise<CertificateAuthority> {
  ca ??= importCa(data.ca);
  return ca;
}

/** Task `issueServingCert`. */
export async function issueServingCert(req: ServingCertRequest): Promise<IssuedCert> {
  return issue.issueServingCert(await authority(), req);
}

/** Task `issueClientCert`. */
export async function issueClientCert(req: ClientCertRequest): Promise<IssuedCert> {
  return issue.issueClientCert(await authority(), req);
}

// Compile-time check that every task name has a handler here.
const handlers: Record<PkiTaskName, (req: never) => Promise<IssuedCert>> = { issueServingCert, issueClientCert };
void handlers;
