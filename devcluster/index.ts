/** The devcluster: an in-memory, Kubernetes-API-compatible HTTPS server for tests and demos. */
export { startDevCluster } from './server.js';
export type { DevCluster, DevClusterOptions } from './server.js';
export type { KeyPairPem } from './certs.js';
export { buildKubeconfig, writeKubeconfig } from './kubeconfig.js';
export { SEED_NAMESPACES, nodeNames } from './seed.js';
export type { AuditRecord } from './audit.js';
export type { RequestAttributes, ResourceAttributes, NonResourceAttributes } from './request-info.js';
