/** Bytes and names of the kubesphere-v1 wire protocol (see docs/protocol.md §1–§4). */

/** `Sec-WebSocket-Protocol` the agent offers and the proxy requires. */
export const SUBPROTOCOL = 'kubesphere-v1';

/** SSH identification lines, byte-identical to the Go tower's (not RFC 4253's `SSH-2.0-`). */
export const IDENT_CLIENT = `SSH-${SUBPROTOCOL}-client`;
export const IDENT_SERVER = `SSH-${SUBPROTOCOL}-server`;

/** SSH channel type the proxy opens; its open data is a bare `host:port`. */
export const CHANNEL_TYPE = 'kubesphere';

/** Global requests (agent → proxy). */
export const CONFIG_REQUEST = 'config';
export const PING_REQUEST = 'ping';

/** The proxy closes a session that sends no `config` within this time (Go: 10 s). */
export const CONFIG_TIMEOUT_MS = 10_000;

/**
 * Largest `config` payload the proxy reads. A real one (kubeconfig CA + client cert +
 * key, base64) is 5–10 KiB; 32 KiB leaves room for CA bundles. It must stay under
 * ssh2's inbound packet limit (35 000 bytes, the whole packet): a bigger request never
 * reaches the proxy's check, ssh2 drops the connection with "Bad packet length" instead
 * and the agent learns nothing.
 */
export const MAX_CONFIG_BYTES = 32 * 1024;

/**
 * Largest WebSocket message either side accepts (SSH packets are ≤ 35 000 bytes; peers
 * send a slice of the SSH stream per message). `ws` buffers a whole message before
 * handing it on, so this bounds what a peer can make us hold at once.
 */
export const MAX_WS_MESSAGE_BYTES = 1024 * 1024;

/** Largest channel-open data (`host:port`) either side accepts. */
export const MAX_TARGET_BYTES = 1024;

/** Default ports when a service host is given without one. */
export const DEFAULT_KUBERNETES_PORT = 443;
export const DEFAULT_KUBESPHERE_PORT = 80;

/** Version string our binaries report (config `Version`, `GET /version`). */
export const BUILD_VERSION = 'v0.1.0-ts';

/**
 * Our own extension, negotiated: the proxy names what it can do in a response header of
 * its WebSocket upgrade (the Go agent ignores it), and our agent answers in the config's
 * `Capabilities` (the Go proxy ignores it). With a Go peer on either side nothing changes.
 */
export const CAPABILITIES_HEADER = 'tower-capabilities';

/**
 * The agent does the TLS to its kube-apiserver and adds the member's credentials itself:
 * the proxy sends plain HTTP over kube channels and never holds the credentials (the
 * config carries none).
 */
export const MEMBER_TLS = 'member-tls';
