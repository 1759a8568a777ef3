/**
 * Who a client certificate names, and the identity of the kubeconfigs the proxy issues:
 * data only, so the controller names it without loading the X.509 code (which runs in
 * the PKI pool's thread).
 */

/** Who a client certificate names (e.g. CN `kubernetes-admin`, O `system:masters`). */
export interface ClientCertRequest {
  commonName: string;
  organizations?: readonly string[];
  /**
   * Bind the certificate to this cluster (a SAN URI, see cluster-binding.ts): only that
   * cluster's kube listener admits it. Unbound when not given.
   */
  cluster?: string;
  /** Default 365. Never past the CA's own expiry. */
  validityDays?: number;
  /** Issue time; default now. */
  now?: Date;
}

/** The kubeconfig admin identity of docs/protocol.md §6 (CN kubernetes-admin, O system:masters). */
export const ADMIN_CLIENT: Readonly<ClientCertRequest> = {
  commonName: 'kubernetes-admin',
  organizations: ['system:masters'],
};

/** The admin identity of the kubeconfig the proxy issues for `cluster`, bound to it. */
export function adminClientFor(cluster: string): ClientCertRequest {
  return { ...ADMIN_CLIENT, cluster };
}
