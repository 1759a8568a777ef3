import { stringify } from 'yaml';

/** Inputs of a client-certificate kubeconfig. */
export interface KubeconfigInput {
  /** e.g. `https://10.96.12.34:6443` (the cluster's kubernetesAPIEndpoint). */
  server: string;
  clusterName: string;
  caPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  /** Default `kubernetes-admin`. */
  userName?: string;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/**
 * Build kubeconfig YAML with one cluster, one user (client certificate) and
 * one current context `<user>@<cluster>`; all PEM data inlined as base64.
 * The result holds a private key: never log it.
 */
export function buildKubeconfig(input: KubeconfigInput): string {
  const userName = input.userName ?? 'kubernetes-admin';
  const contextName = `${userName}@${input.clusterName}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: input.clusterName,
        cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) },
      },
    ],
    users: [
      {
        name: userName,
        user: {
          'client-certificate-data': b64(input.clientCertPem),
          'client-key-data': b64(input.clientKeyPem),
        },
      },
    ],
    contexts: [{ name: contextName, context: { cluster: input.clusterName, user: userName } }],
    'current-context': contextName,
    preferences: {},
  }, { lineWidth: 0 });
}
