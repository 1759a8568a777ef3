/**
 * The layers of docs/architecture.md, checked by `npm test` (dependency-cruiser): an import
 * against them or a cycle fails the suite. Bottom to top:
 *
 *   foundation   src/errors.ts, src/log.ts, src/types/
 *   machines     src/machines/      pure xstate definitions: no I/O, no Node modules
 *   wire         src/protocol/, src/ssh/
 *   domain       src/pki/, src/kube/, src/cluster-sources/, src/metrics/, src/debug/
 *   threads      src/workers/
 *   actors       src/actors/        the machines' I/O: agent/ and proxy/ (+ kube/) apart,
 *                                   sharing http/ (HTTP over tunnel streams)
 *   bins         src/bin/           flags, start, signals
 *
 * A layer imports only layers below it (and its own folder). Outside the product, dev/ and
 * test/ may import anything; devcluster/ (the stand-in API server) must not borrow the
 * product's own logic, or it would agree with the product instead of testing it.
 */
const layer = (folders) => `^src/(${folders.join('|')})(/|\\.ts$)`;
const FOUNDATION = ['errors', 'log', 'types'];

/** [name, folders of the layer, folders it may import besides its own and the foundation] */
const LAYERS = [
  ['machines', ['machines'], []],
  ['wire', ['protocol', 'ssh'], ['protocol']],
  ['domain', ['pki', 'kube', 'cluster-sources', 'metrics', 'debug'], ['machines', 'protocol', 'pki', 'kube', 'cluster-sources', 'metrics']],
  ['threads', ['workers'], ['machines', 'protocol', 'ssh', 'pki']],
  ['actors', ['actors'], ['machines', 'protocol', 'ssh', 'pki', 'kube', 'cluster-sources', 'metrics', 'workers']],
];

const layerRules = LAYERS.map(([name, folders, below]) => ({
  name: `layer-${name}`,
  severity: 'error',
  comment: `${folders.join(', ')} may import only ${[...FOUNDATION, ...below].join(', ')} and their own folder (docs/architecture.md)`,
  from: { path: layer(folders) },
  to: { path: '^src/', pathNot: [layer([...FOUNDATION, ...below]), '^src/$1/'] },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import cycle: break it by moving the shared part down a layer',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'agent-apart-from-proxy',
      severity: 'error',
      comment: 'the agent runs in member clusters: it shares src/actors/http/ (HTTP over tunnel streams) with the proxy, not the proxy itself',
      from: { path: '^src/actors/agent/' },
      to: { path: '^src/actors/(proxy|kube)/' },
    },
    {
      name: 'proxy-apart-from-agent',
      severity: 'error',
      comment: 'the proxy never imports the agent (shared parts live in src/actors/http/)',
      from: { path: '^src/actors/(proxy|kube)/' },
      to: { path: '^src/actors/agent/' },
    },
    {
      name: 'shared-http-is-shared',
      severity: 'error',
      comment: 'src/actors/http/ serves both sides, so it imports neither',
      from: { path: '^src/actors/http/' },
      to: { path: '^src/actors/(agent|proxy|kube)/' },
    },
    {
      name: 'machines-do-no-io',
      severity: 'error',
      comment: 'machines are pure: timers, sockets and files belong to the actors that provide them',
      from: { path: '^src/machines/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'foundation-stands-alone',
      severity: 'error',
      comment: 'src/errors.ts, src/log.ts and src/types/ import nothing of ours',
      from: { path: layer(FOUNDATION) },
      to: { path: '^src/', pathNot: layer(FOUNDATION) },
    },
    {
      name: 'product-not-to-tooling',
      severity: 'error',
      comment: 'the product (src/) never imports dev tooling, the devcluster or tests',
      from: { path: '^src/' },
      to: { path: '^(dev|devcluster|test)/' },
    },
    {
      name: 'bins-are-top',
      severity: 'error',
      comment: 'only bins (and tooling) import src/bin/',
      from: { path: '^src/', pathNot: '^src/bin/' },
      to: { path: '^src/bin/' },
    },
    {
      name: 'devcluster-independent',
      severity: 'error',
      comment: 'the devcluster stands in for kube-apiserver: it may share the logger, x509 parsing and the CLI voice, not the product logic',
      from: { path: '^devcluster/' },
      to: { path: '^(src|dev|test)/', pathNot: ['^src/(log|errors)\\.ts$', '^src/pki/x509\\.ts$', '^src/bin/(usage-error|unknown-flags)\\.ts$'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import that resolves to nothing',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.d.ts'] },
  },
};
