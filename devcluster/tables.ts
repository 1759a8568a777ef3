/**
 * Server-side printing (`Accept: ...;as=Table`): the columns a real apiserver
 * gives kubectl for the built-in kinds, and a CRD's additionalPrinterColumns.
 */
import { endpointsColumn } from './endpoints.js';
import type { Json, JsonObject, KubeObject } from './types.js';
import { isObject } from './types.js';
import type { PrinterColumn, ResourceType } from './resources.js';
import { findResults } from './jsonpath.js';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

type Cell = Json;
export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** duration.HumanDuration of k8s.io/apimachinery. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

function age(ts: unknown): string {
  if (typeof ts !== 'string' || !ts) return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<invalid>' : humanDuration(Date.now() - t);
}

function col(name: string, type = 'string', priority = 0, format = '', description = ''): Column {
  return { name, type, format, description, priority };
}

const NAME = col('Name', 'string', 0, 'name', 'Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names');
const AGE = col('Age', 'string', 0, '', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

const obj = (v: Json | undefined): JsonObject => (isObject(v) ? v : {});
const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const count = (v: Json | undefined): number => Object.keys(obj(v)).length;

function nodeStatus(o: KubeObject): string {
  const ready = arr(obj(o['status'])['conditions']).map(obj).find((c) => c['type'] === 'Ready');
  let s = ready?.['status'] === 'True' ? 'Ready' : ready?.['status'] === 'False' ? 'NotReady' : 'Unknown';
  if (obj(o['spec'])['unschedulable'] === true) s += ',SchedulingDisabled';
  return s;
}

function nodeRoles(o: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(',') : '<none>';
}

function nodeAddress(o: KubeObject, type: string): string {
  const a = arr(obj(o['status'])['addresses']).map(obj).find((x) => x['type'] === type);
  return typeof a?.['address'] === 'string' ? a['address'] : '<none>';
}

function serviceExternalIp(o: KubeObject): string {
  const spec = obj(o['spec']);
  const external = arr(spec['externalIPs']).map(String);
  switch (spec['type']) {
    case 'ExternalName':
      return String(spec['externalName'] ?? '<none>');
    case 'LoadBalancer': {
      const ingress = arr(obj(obj(o['status'])['loadBalancer'])['ingress']).map(obj);
      const ips = [...ingress.map((i) => String(i['ip'] ?? i['hostname'] ?? '')).filter(Boolean), ...external];
      return ips.length ? ips.join(',') : '<pending>';
    }
    default:
      return external.length ? external.join(',') : '<none>';
  }
}

function servicePorts(o: KubeObject): string {
  const ports = arr(obj(o['spec'])['ports']).map(obj);
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${String(p['port'])}${typeof p['nodePort'] === 'number' ? `:${p['nodePort']}` : ''}/${String(p['protocol'] ?? 'TCP')}`).join(',');
}

function selector(o: KubeObject): string {
  const s = obj(obj(o['spec'])['selector']);
  const parts = Object.entries(s).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? parts.sort().join(',') : '<none>';
}

interface Printer {
  columns: Column[];
  cells: (o: KubeObject) => Cell[];
}

/** Roles and ClusterRoles print their creation time, not an age. */
function createdAt(): Printer {
  return { columns: [NAME, col('Created At', 'date')], cells: (o) => [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''] };
}

/** Bindings print `Kind/name` of their role. */
function roleColumn(): Printer {
  return {
    columns: [NAME, col('Role', 'string'), AGE],
    cells: (o) => {
      const ref = obj(o['roleRef']);
      return [o.metadata.name ?? '', `${String(ref['kind'] ?? '')}/${String(ref['name'] ?? '')}`, age(o.metadata.creationTimestamp)];
    },
  };
}

const BUILTIN_PRINTERS: Record<string, Printer> = {
  '/namespaces': {
    columns: [NAME, col('Status', 'string', 0, '', 'The status of the namespace'), AGE],
    cells: (o) => [o.metadata.name ?? '', String(obj(o['status'])['phase'] ?? ''), age(o.metadata.creationTimestamp)],
  },
  '/nodes': {
    columns: [
      NAME,
      col('Status', 'string', 0, '', 'The status of the node'),
      col('Roles', 'string', 0, '', 'The roles of the node'),
      AGE,
      col('Version', 'string', 0, '', 'Kubelet Version reported by the node.'),
      col('Internal-IP', 'string', 1, '', 'List of addresses reachable to the node.'),
      col('External-IP', 'string', 1, '', 'List of addresses reachable to the node.'),
      col('OS-Image', 'string', 1, '', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
      col('Kernel-Version', 'string', 1, '', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
      col('Container-Runtime', 'string', 1, '', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).'),
    ],
    cells: (o) => {
      const info = obj(obj(o['status'])['nodeInfo']);
      return [
        o.metadata.name ?? '',
        nodeStatus(o),
        nodeRoles(o),
        age(o.metadata.creationTimestamp),
        String(info['kubeletVersion'] ?? ''),
        nodeAddress(o, 'InternalIP'),
        nodeAddress(o, 'ExternalIP'),
        String(info['osImage'] ?? '<unknown>'),
        String(info['kernelVersion'] ?? '<unknown>'),
        String(info['containerRuntimeVersion'] ?? '<unknown>'),
      ];
    },
  },
  '/services': {
    columns: [
      NAME,
      col('Type', 'string', 0, '', 'type determines how the Service is exposed.'),
      col('Cluster-IP', 'string', 0, '', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
      col('External-IP', 'string', 0, '', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
      col('Port(s)', 'string', 0, '', 'The list of ports that are exposed by this service.'),
      AGE,
      col('Selector', 'string', 1, '', 'Route service traffic to pods with label keys and values matching this selector.'),
    ],
    cells: (o) => {
      const spec = obj(o['spec']);
      return [
        o.metadata.name ?? '',
        String(spec['type'] ?? 'ClusterIP'),
        typeof spec['clusterIP'] === 'string' && spec['clusterIP'] ? spec['clusterIP'] : '<none>',
        serviceExternalIp(o),
        servicePorts(o),
        age(o.metadata.creationTimestamp),
        selector(o),
      ];
    },
  },
  '/pods': {
    columns: [
      NAME,
      col('Ready', 'string', 0, '', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 0, '', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'string', 0, '', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      AGE,
    ],
    cells: (o) => {
      const containers = arr(obj(o['spec'])['containers']).length;
      const ready = arr(obj(o['status'])['containerStatuses']).map(obj).filter((s) => s['ready'] === true).length;
      return [o.metadata.name ?? '', `${ready}/${containers}`, String(obj(o['status'])['phase'] ?? 'Pending'), '0', age(o.metadata.creationTimestamp)];
    },
  },
  '/endpoints': {
    columns: [NAME, col('Endpoints', 'string', 0, '', 'Endpoints is the list of endpoints in this subset.'), AGE],
    cells: (o) => [o.metadata.name ?? '', endpointsColumn(o), age(o.metadata.creationTimestamp)],
  },
  '/configmaps': {
    columns: [NAME, col('Data', 'string', 0, '', 'Data contains the configuration data.'), AGE],
    cells: (o) => [o.metadata.name ?? '', count(o['data']) + count(o['binaryData']), age(o.metadata.creationTimestamp)],
  },
  '/secrets': {
    columns: [NAME, col('Type', 'string', 0, '', 'Used to facilitate programmatic handling of secret data.'), col('Data', 'string', 0, '', 'Data contains the secret data.'), AGE],
    cells: (o) => [o.metadata.name ?? '', String(o['type'] ?? ''), count(o['data']), age(o.metadata.creationTimestamp)],
  },
  '/serviceaccounts': {
    columns: [NAME, col('Secrets', 'string', 0, '', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), AGE],
    cells: (o) => [o.metadata.name ?? '', arr(o['secrets']).length, age(o.metadata.creationTimestamp)],
  },
  '/events': {
    columns: [
      col('Last Seen', 'string'),
      col('Type', 'string'),
      col('Reason', 'string'),
      col('Object', 'string'),
      col('Message', 'string'),
    ],
    cells: (o) => {
      const involved = obj(o['involvedObject']);
      return [
        age(o['lastTimestamp'] ?? o['eventTime'] ?? o.metadata.creationTimestamp),
        String(o['type'] ?? ''),
        String(o['reason'] ?? ''),
        `${String(involved['kind'] ?? '').toLowerCase()}/${String(involved['name'] ?? '')}`,
        String(o['message'] ?? ''),
      ];
    },
  },
  'coordination.k8s.io/leases': {
    columns: [NAME, col('Holder', 'string', 0, '', 'holderIdentity contains the identity of the holder of a current lease.'), AGE],
    cells: (o) => [o.metadata.name ?? '', String(obj(o['spec'])['holderIdentity'] ?? ''), age(o.metadata.creationTimestamp)],
  },
  'apps/deployments': {
    columns: [
      NAME,
      col('Ready', 'string', 0, '', 'Number of the pod with ready state'),
      col('Up-to-date', 'string', 0, '', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
      col('Available', 'string', 0, '', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
      AGE,
    ],
    cells: (o) => {
      const st = obj(o['status']);
      const num = (v: Json | undefined): number => (typeof v === 'number' ? v : 0);
      return [o.metadata.name ?? '', `${num(st['readyReplicas'])}/${num(obj(o['spec'])['replicas'])}`, num(st['updatedReplicas']), num(st['availableReplicas']), age(o.metadata.creationTimestamp)];
    },
  },
  'policy/poddisruptionbudgets': {
    columns: [NAME, col('Min Available', 'string'), col('Max Unavailable', 'string'), col('Allowed Disruptions', 'integer'), AGE],
    cells: (o) => {
      const spec = obj(o['spec']);
      const show = (v: Json | undefined): string => (v === undefined || v === null ? 'N/A' : String(v));
      return [o.metadata.name ?? '', show(spec['minAvailable']), show(spec['maxUnavailable']), Number(obj(o['status'])['disruptionsAllowed'] ?? 0), age(o.metadata.creationTimestamp)];
    },
  },
  'rbac.authorization.k8s.io/roles': createdAt(),
  'rbac.authorization.k8s.io/clusterroles': createdAt(),
  'rbac.authorization.k8s.io/rolebindings': roleColumn(),
  'rbac.authorization.k8s.io/clusterrolebindings': roleColumn(),
  'apiextensions.k8s.io/customresourcedefinitions': {
    columns: [NAME, col('Created At', 'date', 0, '', 'CreationTimestamp is a timestamp representing the server time when this object was created.')],
    cells: (o) => [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''],
  },
};

/** apiextensions' cellForJSONValue: typed cells; dates become ages. */
function customCell(c: PrinterColumn, o: KubeObject): Cell {
  const value = findResults(o as unknown as Json, c.jsonPath)[0];
  if (value === undefined || value === null) return null;
  switch (c.type) {
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'integer':
      return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'date':
      return typeof value === 'string' ? age(value) : null;
    default:
      return null;
  }
}

function printerFor(t: ResourceType, version: string): Printer {
  if (t.builtin) {
    const p = BUILTIN_PRINTERS[`${t.group}/${t.plural}`];
    if (p) return p;
  }
  const custom = t.printerColumns?.[version];
  if (custom && custom.length > 0) {
    return {
      columns: [NAME, ...custom.map((c) => col(c.name, c.type, c.priority ?? 0, c.format ?? '', c.description ?? ''))],
      cells: (o) => [o.metadata.name ?? '', ...custom.map((c) => customCell(c, o))],
    };
  }
  return { columns: [NAME, AGE], cells: (o) => [o.metadata.name ?? '', age(o.metadata.creationTimestamp)] };
}

function rowObject(o: KubeObject, include: IncludeObject): JsonObject | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return o as unknown as JsonObject;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata as JsonObject };
}

/** A meta.k8s.io/v1 Table of the given objects. */
export function toTable(t: ResourceType, version: string, objects: KubeObject[], resourceVersion: string, include: IncludeObject, noHeaders = false): JsonObject {
  const p = printerFor(t, version);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    ...(noHeaders ? {} : { columnDefinitions: p.columns as unknown as Json }),
    rows: objects.map((o) => {
      const row: JsonObject = { cells: p.cells(o) };
      const ro = rowObject(o, include);
      if (ro) row['object'] = ro;
      return row;
    }),
  };
}
