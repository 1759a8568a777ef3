/**
 * The seed README's agent.yaml: a proxy-type Cluster with an empty token, namespace
 * included although the Cluster is cluster-scoped (the seed creates it with `-n`).
 */
export function seedClusterYaml(name: string): string {
  return `apiVersion: cluster.kubesphere.io/v1alpha1
kind: Cluster
metadata:
  name: ${name}
  namespace: kubesphere-system
spec:
  connection:
    type: proxy
    token: ""
  joinFederation: true
`;
}
