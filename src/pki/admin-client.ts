/**
 * The identity of the kubeconfigs the proxy issues: data only, so the controller names it
 * without loading the X.509 code (which runs in the PKI pool's thread).
 */
import type { ClientCertRequest } from './issue.js';

/** The kubeconfig admin identity of PROTOCOL.md §6 (CN kubernetes-admin, O system:masters). */
export const ADMIN_CLIENT: Readonly<ClientCertRequest> = {
  commonName: 'kubernetes-admin',
  organizations: ['system:masters'],
};

/** The admin identity of the kubeconfig the proxy issues for `cluster`, bound to it. */
export function adminClientFor(cluster: string): ClientCertRequest {
  return { ...ADMIN_CLIENT, cluster };
}
