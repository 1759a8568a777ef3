/**
 * The few controllers a bare control plane runs that clients can observe:
 * CRD registration (synchronous, so discovery is current when a create returns),
 * namespace termination (delete the content, then the namespace), CRD cleanup
 * (delete the instances, then the CRD), and each namespace's `default`
 * ServiceAccount and `kube-root-ca.crt` ConfigMap.
 */
import type { KubeObject } from './types.js';
import { clone, isObject } from './types.js';
import type { Registry, ResourceType } from './resources.js';
import { typeFromCrd, typeKey } from './resources.js';
import type { Store, StoreEvent } from './store.js';
import type { ObjectApi } from './objects.js';
import { CRD_CLEANUP_FINALIZER } from './kinds.js';

const CRD_KEY = 'apiextensions.k8s.io/customresourcedefinitions';
const NS_KEY = '/namespaces';

export class Controllers {
  private scheduled = false;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    private readonly registry: Registry,
    private readonly objects: ObjectApi,
    private readonly caPem: string,
  ) {
    this.unsubscribe = store.subscribe((ev) => this.onEvent(ev));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  private onEvent(ev: StoreEvent): void {
    if (ev.key === CRD_KEY) {
      const name = ev.object.metadata.name ?? '';
      this.registry.setCustom(name, ev.type === 'DELETED' ? undefined : typeFromCrd(ev.object));
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      try {
        this.reconcile();
      } catch {
        // A failed pass is retried on the next change, like a controller's requeue.
      }
    });
  }

  private type(group: string, plural: string): ResourceType {
    const t = this.registry.byGroupResource(group, plural);
    if (!t) throw new Error(`devcluster: built-in type ${group}/${plural} missing`);
    return t;
  }

  /** One pass over everything; writes schedule the next pass, so this converges. */
  reconcile(): void {
    const nsType = this.type('', 'namespaces');
    for (const ns of this.store.list(NS_KEY)) {
      const name = ns.metadata.name ?? '';
      if (ns.metadata.deletionTimestamp) this.terminateNamespace(nsType, ns);
      else this.populateNamespace(name);
    }
    const crdType = this.type('apiextensions.k8s.io', 'customresourcedefinitions');
    for (const crd of this.store.list(CRD_KEY)) if (crd.metadata.deletionTimestamp) this.cleanupCrd(crdType, crd);
  }

  private populateNamespace(ns: string): void {
    const sa = this.type('', 'serviceaccounts');
    const cm = this.type('', 'configmaps');
    if (!this.store.get(typeKey(sa), ns, 'default')) this.objects.create(sa, 'v1', ns, { metadata: { name: 'default' } });
    if (!this.store.get(typeKey(cm), ns, 'kube-root-ca.crt'))
      this.objects.create(cm, 'v1', ns, {
        metadata: { name: 'kube-root-ca.crt', annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } },
        data: { 'ca.crt': this.caPem },
      });
  }

  private terminateNamespace(nsType: ResourceType, ns: KubeObject): void {
    const name = ns.metadata.name ?? '';
    let remaining = 0;
    for (const t of this.registry.all().filter((x) => x.namespaced)) {
      for (const obj of this.store.list(typeKey(t), name)) {
        remaining++;
        if (!obj.metadata.deletionTimestamp) this.objects.delete(t, t.version, name, obj.metadata.name ?? '', {});
      }
    }
    if (remaining > 0) return;
    const spec = isObject(ns['spec']) ? ns['spec'] : {};
    const specFinalizers = Array.isArray(spec['finalizers']) ? spec['finalizers'] : [];
    if ((ns.metadata.finalizers ?? []).length === 0) {
      this.objects.removeNow(nsType, ns);
    } else if (specFinalizers.length > 0) {
      const next = clone(ns);
      next['spec'] = { ...spec, finalizers: [] };
      this.store.put(NS_KEY, next);
    }
  }

  private cleanupCrd(crdType: ResourceType, crd: KubeObject): void {
    const t = typeFromCrd(crd);
    let remaining = 0;
    if (t) {
      for (const obj of this.store.list(typeKey(t))) {
        remaining++;
        if (!obj.metadata.deletionTimestamp) this.objects.delete(t, t.version, obj.metadata.namespace, obj.metadata.name ?? '', {});
      }
    }
    if (remaining > 0) return;
    const finalizers = (crd.metadata.finalizers ?? []).filter((f) => f !== CRD_CLEANUP_FINALIZER);
    if (finalizers.length === (crd.metadata.finalizers ?? []).length) return;
    const next = clone(crd);
    next.metadata.finalizers = finalizers;
    if (finalizers.length === 0) this.objects.removeNow(crdType, next);
    else this.store.put(CRD_KEY, next);
  }
}
