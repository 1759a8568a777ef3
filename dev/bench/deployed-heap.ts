/**
 * The V8 young generation the proxy and the agent get in their Deployments.
 *
 * Node sizes V8's heap from the container's memory limit (the cgroup's), and under the
 * limits in config/ (agent 384 MiB, proxy 512 MiB) V8 picks a 1 MiB semi-space: a new space
 * of at most 2 MiB. A process without a limit on this 24 GiB machine gets 16 MiB semi-spaces
 * (Node 20) or 64 MiB (Node 24), which changes what a transfer leaves behind in memory.
 * `npm run bench -- --as-deployed` gives the bench's proxy and agent the deployed size, so
 * its figures are the pods'. test/deploy/deployed-heap.test.ts checks the claim against the
 * manifests' limits on each Node the tests run on.
 */
const SEMI_SPACE_MIB = 1;

export const DEPLOYED_HEAP_NODE_ARGS: readonly string[] = [`--max-semi-space-size=${SEMI_SPACE_MIB}`];

/** The largest new space (bytes) those flags allow: two semi-spaces. */
export const DEPLOYED_NEW_SPACE_BYTES = 2 * SEMI_SPACE_MIB * 1024 * 1024;
