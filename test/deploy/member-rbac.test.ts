/**
 * The agent's rights are exactly its ClusterRoleBinding's, and they are the host's rights
 * on the member: every request the host makes through the tunnel reaches the member's
 * kube-apiserver as the agent's service account. The agent itself calls nothing there.
 * With the read-only overlay the host reads workloads and is refused Secrets, nodes and
 * writes (403 from the member, through the tunnel); without any binding, the agent stays
 * connected and every request of the host is refused.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeWithTool } from '../helpers/external-tool.js';
import { ClusterRig, HostRig } from './host-rig.js';
import { HostFlow } from './host-flow.js';
import { render } from './manifests.js';
import { canRunPods } from './pod/can-run-pods.js';

const skip = await canRunPods();
const AGENT = 'system:serviceaccount:kubesphere-system:tower-agent';

describeWithTool(
  "the agent's binding is what the host may do on the member (read-only overlay, then none)",
  skip,
  () => {
    let rig: HostRig;
    let member: ClusterRig;
    let flow: HostFlow;
    let kubeconfig: string;
    /** Requests made as the agent before the host used the tunnel: the agent's own. */
    let agentOwn = -1;
    const viaTunnel = (args: string[]) => rig.kubectl.run(args, { kubeconfig });

    before(async () => {
      rig = await HostRig.install(await render('host/base'));
      member = await ClusterRig.start('member', rig.dir);
      const memberObjects = await render('member/overlays/read-only');
      await member.apply(memberObjects);
      await member.kubectl.ok(['-n', 'default', 'create', 'secret', 'generic', 'member-secret', '--from-literal=k=v']);
      flow = new HostFlow(rig);
      await flow.start();
      await flow.createCluster('alpha');
      await flow.startAgent(member, memberObjects, 'alpha');
      agentOwn = member.cluster.audit.records().filter((r) => r.user === AGENT).length;
      kubeconfig = await flow.tunnelKubeconfig('alpha');
    });
    after(async () => {
      await member?.close();
      await rig?.close();
    });

    it('makes no request of its own on the member', () => {
      assert.equal(agentOwn, 0);
    });

    it("reads workloads and namespaces of the member as the agent's service account", async () => {
      const who = await viaTunnel(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
      assert.equal(who.stdout, AGENT);
      const ns = await viaTunnel(['get', 'namespaces', '-o', 'name']);
      assert.equal(ns.code, 0, ns.stderr);
      assert.match(ns.stdout, /namespace\/kube-system/);
      assert.equal((await viaTunnel(['get', 'services', '-A'])).code, 0);
    });

    it("is refused Secrets, nodes and writes, by the member's apiserver", async () => {
      const cases: Array<[string[], RegExp]> = [
        [
          ['get', 'secrets', '-A'],
          /secrets is forbidden: User "system:serviceaccount:kubesphere-system:tower-agent" cannot list resource "secrets" in API group "" at the cluster scope/,
        ],
        [['get', 'nodes'], /nodes is forbidden: User "system:serviceaccount:kubesphere-system:tower-agent" cannot list resource "nodes"/],
        [
          ['create', 'namespace', 'from-host'],
          /namespaces is forbidden: User "system:serviceaccount:kubesphere-system:tower-agent" cannot create resource "namespaces"/,
        ],
      ];
      for (const [args, refusal] of cases) {
        const r = await viaTunnel(args);
        assert.notEqual(r.code, 0, args.join(' '));
        assert.match(r.stderr, refusal);
      }
    });

    it('without any binding: the agent stays connected, the host is refused everything', async () => {
      const before = member.cluster.audit.records().length;
      await member.kubectl.ok(['delete', 'clusterrolebinding', 'tower-agent-view']);
      const r = await viaTunnel(['get', 'services', '-A']);
      assert.match(
        r.stderr,
        /services is forbidden: User "system:serviceaccount:kubesphere-system:tower-agent" cannot list resource "services"/,
      );
      const condition = (
        await rig.kubectl.ok(['get', 'cluster', 'alpha', '-o', 'jsonpath={.status.conditions[?(@.type=="AgentAvailable")].status}'])
      ).trim();
      assert.equal(condition, 'True');
      const byAgent = member.cluster.audit
        .records()
        .slice(before)
        .filter((x) => x.user === AGENT);
      assert.ok(byAgent.length > 0 && byAgent.every((x) => !x.allowed), "only the host's requests, all refused, were made as the agent");
    });
  },
  { timeout: 150_000 },
);
