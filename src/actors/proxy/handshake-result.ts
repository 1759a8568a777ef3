/** A short label for why an agent session ended before serving (metrics, not logs). */
export function handshakeResult(reason: string | undefined): string {
  if (!reason) return 'disconnected';
  if (/is not served/.test(reason)) return 'unknown_cluster';
  if (/wrong token/.test(reason)) return 'wrong_token';
  if (/no config request/.test(reason)) return 'config_timeout';
  if (/handshake timed out/i.test(reason)) return 'handshake_timeout';
  if (/config|KubernetesSvcHost|KubeSphereSvcHost|credentials/.test(reason)) return 'bad_config';
  return 'disconnected';
}
