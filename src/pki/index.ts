/** The PKI layer: CA loading, certificate issuing, kubeconfig building, serving-cert cache. */
export { PkiError } from './errors.js';
export { checkCaPem, type CaPem, type CaSource, type CaKeyKind, type CheckedCaPem } from './ca-pem.js';
export { loadCaFromFiles, type CaFiles } from './ca-load.js';
export { importCa, type CertificateAuthority, type SigningAlgorithm } from './ca.js';
export { createSelfSignedCa, type CaKeyType, type SelfSignedCaOptions } from './ca-create.js';
export {
  issueServingCert,
  issueClientCert,
  ADMIN_CLIENT,
  adminClientFor,
  type ServingCertRequest,
  type ClientCertRequest,
  type IssuedCert,
} from './issue.js';
export { classifyHost, servingCertSans, hostSetKey, DEFAULT_SERVING_DNS_NAMES, type SubjectAltName } from './hosts.js';
export {
  clusterBindingOf,
  clusterBindingUri,
  admitsCluster,
  CLUSTER_URI_PREFIX,
  type ClusterBinding,
  type CertificateInput,
} from './cluster-binding.js';
export { buildKubeconfig, type KubeconfigInput } from './kubeconfig.js';
export {
  ServingCertCache,
  type ServingCertIssuer,
  type ServingCertCacheOptions,
} from './serving-cert-cache.js';
export { CLOCK_SKEW_MS, DEFAULT_LEAF_VALIDITY_DAYS } from './validity.js';
export { freshNotAfter, shouldRenew, type CertTimes } from './renewal.js';
