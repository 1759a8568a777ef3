/** Kubeconfig YAML for a devcluster: one with the admin client certificate, one with a bearer token. */
import { writeFile } from 'node:fs/promises';
import YAML from 'yaml';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export interface KubeconfigInput {
  name: string;
  server: string;
  caPem: string;
  user: { clientCertPem: string; clientKeyPem: string } | { token: string };
  userName: string;
}

export function buildKubeconfig(input: KubeconfigInput): string {
  const user =
    'token' in input.user
      ? { token: input.user.token }
      : { 'client-certificate-data': b64(input.user.clientCertPem), 'client-key-data': b64(input.user.clientKeyPem) };
  const context = `${input.userName}@${input.name}`;
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: input.name, cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) } }],
    users: [{ name: input.userName, user }],
    contexts: [{ name: context, context: { cluster: input.name, user: input.userName } }],
    'current-context': context,
    preferences: {},
  });
}

/** Write a kubeconfig readable only by its owner, as it holds credentials. */
export async function writeKubeconfig(path: string, yamlText: string): Promise<void> {
  await writeFile(path, yamlText, { mode: 0o600 });
}
