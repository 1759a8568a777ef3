/**
 * Decoding of the Kubernetes protobuf encoding for the few kinds kubectl sends that
 * way (`kubectl create namespace|configmap|secret|serviceaccount|service|...`):
 * the "k8s\0" envelope, runtime.Unknown, and a schema per kind with the field
 * numbers of k8s.io/api's generated.proto. Unknown fields are skipped.
 */
import type { Json, JsonObject } from './types.js';
import { errors } from './types.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Scalar = 'string' | 'bytes' | 'int' | 'bool';
type FieldType = Scalar | 'map<string,string>' | 'map<string,bytes>' | 'intOrString' | Schema;
interface Field {
  name: string;
  type: FieldType;
  repeated?: boolean;
}
type Schema = { [num: number]: Field };

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw errors.badRequest('protobuf: truncated varint');
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return result;
    }
    throw errors.badRequest('protobuf: varint too long');
  }

  bytes(): Buffer {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw errors.badRequest('protobuf: truncated field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw errors.badRequest(`protobuf: unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) throw errors.badRequest('protobuf: truncated field');
  }
}

/** int32 fields arrive as 64-bit two's complement varints when negative. */
function toInt(n: number): number {
  return n >= 2 ** 63 ? n - 2 ** 64 : n;
}

function decodeMapEntry(buf: Buffer, valueBytes: boolean): [string, string] {
  const r = new Reader(buf);
  let key = '';
  let value = '';
  while (!r.done()) {
    const tag = r.varint();
    const num = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2) r.skip(wire);
    else if (num === 1) key = r.bytes().toString('utf8');
    else if (num === 2) value = valueBytes ? r.bytes().toString('base64') : r.bytes().toString('utf8');
    else r.skip(wire);
  }
  return [key, value];
}

function decodeMessage(buf: Buffer, schema: Schema): JsonObject {
  const r = new Reader(buf);
  const out: JsonObject = {};
  while (!r.done()) {
    const tag = r.varint();
    const num = Math.floor(tag / 8);
    const wire = tag & 7;
    const field = schema[num];
    if (!field) {
      r.skip(wire);
      continue;
    }
    let value: Json;
    const t = field.type;
    if (t === 'int' || t === 'bool') {
      if (wire !== 0) throw errors.badRequest(`protobuf: field ${field.name} has wire type ${wire}`);
      const n = r.varint();
      value = t === 'bool' ? n !== 0 : toInt(n);
    } else {
      if (wire !== 2) throw errors.badRequest(`protobuf: field ${field.name} has wire type ${wire}`);
      const b = r.bytes();
      if (t === 'string') value = b.toString('utf8');
      else if (t === 'bytes') value = b.toString('base64');
      else if (t === 'map<string,string>' || t === 'map<string,bytes>') {
        const [k, v] = decodeMapEntry(b, t === 'map<string,bytes>');
        const map = (out[field.name] ?? {}) as JsonObject;
        map[k] = v;
        out[field.name] = map;
        continue;
      } else if (t === 'intOrString') {
        const io = decodeMessage(b, { 1: { name: 'type', type: 'int' }, 2: { name: 'intVal', type: 'int' }, 3: { name: 'strVal', type: 'string' } });
        value = io['type'] === 1 ? (io['strVal'] ?? '') : (io['intVal'] ?? 0);
      } else value = decodeMessage(b, t);
    }
    // gogo-protobuf writes empty strings that Go's JSON would omit (omitempty).
    if (value === '' && !field.repeated) continue;
    if (field.repeated) {
      const arr = (out[field.name] ?? []) as Json[];
      arr.push(value);
      out[field.name] = arr;
    } else out[field.name] = value;
  }
  return out;
}

const ownerReference: Schema = {
  1: { name: 'kind', type: 'string' },
  3: { name: 'name', type: 'string' },
  4: { name: 'uid', type: 'string' },
  5: { name: 'apiVersion', type: 'string' },
  6: { name: 'controller', type: 'bool' },
  7: { name: 'blockOwnerDeletion', type: 'bool' },
};

const objectMeta: Schema = {
  1: { name: 'name', type: 'string' },
  2: { name: 'generateName', type: 'string' },
  3: { name: 'namespace', type: 'string' },
  5: { name: 'uid', type: 'string' },
  6: { name: 'resourceVersion', type: 'string' },
  7: { name: 'generation', type: 'int' },
  11: { name: 'labels', type: 'map<string,string>' },
  12: { name: 'annotations', type: 'map<string,string>' },
  13: { name: 'ownerReferences', type: ownerReference, repeated: true },
  14: { name: 'finalizers', type: 'string', repeated: true },
};

const objectReference: Schema = {
  1: { name: 'kind', type: 'string' },
  2: { name: 'namespace', type: 'string' },
  3: { name: 'name', type: 'string' },
  4: { name: 'uid', type: 'string' },
  5: { name: 'apiVersion', type: 'string' },
};

const servicePort: Schema = {
  1: { name: 'name', type: 'string' },
  2: { name: 'protocol', type: 'string' },
  3: { name: 'port', type: 'int' },
  4: { name: 'targetPort', type: 'intOrString' },
  5: { name: 'nodePort', type: 'int' },
  6: { name: 'appProtocol', type: 'string' },
};

const resourceAttributes: Schema = {
  1: { name: 'namespace', type: 'string' },
  2: { name: 'verb', type: 'string' },
  3: { name: 'group', type: 'string' },
  4: { name: 'version', type: 'string' },
  5: { name: 'resource', type: 'string' },
  6: { name: 'subresource', type: 'string' },
  7: { name: 'name', type: 'string' },
};
const nonResourceAttributes: Schema = { 1: { name: 'path', type: 'string' }, 2: { name: 'verb', type: 'string' } };
const subjectAccessReview: Schema = {
  1: { name: 'metadata', type: objectMeta },
  2: {
    name: 'spec',
    type: {
      1: { name: 'resourceAttributes', type: resourceAttributes },
      2: { name: 'nonResourceAttributes', type: nonResourceAttributes },
      3: { name: 'user', type: 'string' },
      4: { name: 'groups', type: 'string', repeated: true },
      6: { name: 'uid', type: 'string' },
    },
  },
};
const policyRule: Schema = {
  1: { name: 'verbs', type: 'string', repeated: true },
  2: { name: 'apiGroups', type: 'string', repeated: true },
  3: { name: 'resources', type: 'string', repeated: true },
  4: { name: 'resourceNames', type: 'string', repeated: true },
  5: { name: 'nonResourceURLs', type: 'string', repeated: true },
};
const role: Schema = { 1: { name: 'metadata', type: objectMeta }, 2: { name: 'rules', type: policyRule, repeated: true } };
const binding: Schema = {
  1: { name: 'metadata', type: objectMeta },
  2: {
    name: 'subjects',
    type: { 1: { name: 'kind', type: 'string' }, 2: { name: 'apiGroup', type: 'string' }, 3: { name: 'name', type: 'string' }, 4: { name: 'namespace', type: 'string' } },
    repeated: true,
  },
  3: { name: 'roleRef', type: { 1: { name: 'apiGroup', type: 'string' }, 2: { name: 'kind', type: 'string' }, 3: { name: 'name', type: 'string' } } },
};

/** Kinds kubectl may send as protobuf, keyed by apiVersion/kind. */
const KINDS: Record<string, Schema> = {
  'v1/Namespace': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'spec', type: { 1: { name: 'finalizers', type: 'string', repeated: true } } },
  },
  'v1/ConfigMap': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'data', type: 'map<string,string>' },
    3: { name: 'binaryData', type: 'map<string,bytes>' },
    4: { name: 'immutable', type: 'bool' },
  },
  'v1/Secret': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'data', type: 'map<string,bytes>' },
    3: { name: 'type', type: 'string' },
    4: { name: 'stringData', type: 'map<string,string>' },
    5: { name: 'immutable', type: 'bool' },
  },
  'v1/ServiceAccount': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'secrets', type: objectReference, repeated: true },
    3: { name: 'imagePullSecrets', type: { 1: { name: 'name', type: 'string' } }, repeated: true },
    4: { name: 'automountServiceAccountToken', type: 'bool' },
  },
  'v1/Service': {
    1: { name: 'metadata', type: objectMeta },
    2: {
      name: 'spec',
      type: {
        1: { name: 'ports', type: servicePort, repeated: true },
        2: { name: 'selector', type: 'map<string,string>' },
        3: { name: 'clusterIP', type: 'string' },
        4: { name: 'type', type: 'string' },
        5: { name: 'externalIPs', type: 'string', repeated: true },
        7: { name: 'sessionAffinity', type: 'string' },
        8: { name: 'loadBalancerIP', type: 'string' },
        10: { name: 'externalName', type: 'string' },
        18: { name: 'clusterIPs', type: 'string', repeated: true },
      },
    },
  },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'spec', type: { 1: { name: 'resourceAttributes', type: resourceAttributes }, 2: { name: 'nonResourceAttributes', type: nonResourceAttributes } } },
  },
  'authorization.k8s.io/v1/SubjectAccessReview': subjectAccessReview,
  'authorization.k8s.io/v1/LocalSubjectAccessReview': subjectAccessReview,
  'authorization.k8s.io/v1/SelfSubjectRulesReview': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'spec', type: { 1: { name: 'namespace', type: 'string' } } },
  },
  'authentication.k8s.io/v1/SelfSubjectReview': { 1: { name: 'metadata', type: objectMeta } },
  'authentication.k8s.io/v1/TokenReview': {
    1: { name: 'metadata', type: objectMeta },
    2: { name: 'spec', type: { 1: { name: 'token', type: 'string' }, 2: { name: 'audiences', type: 'string', repeated: true } } },
  },
  'authentication.k8s.io/v1/TokenRequest': {
    1: { name: 'metadata', type: objectMeta },
    2: {
      name: 'spec',
      type: {
        1: { name: 'audiences', type: 'string', repeated: true },
        3: { name: 'boundObjectRef', type: { 1: { name: 'kind', type: 'string' }, 2: { name: 'apiVersion', type: 'string' }, 3: { name: 'name', type: 'string' }, 4: { name: 'uid', type: 'string' } } },
        4: { name: 'expirationSeconds', type: 'int' },
      },
    },
  },
  'rbac.authorization.k8s.io/v1/Role': role,
  'rbac.authorization.k8s.io/v1/ClusterRole': role,
  'rbac.authorization.k8s.io/v1/RoleBinding': binding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': binding,
  'coordination.k8s.io/v1/Lease': {
    1: { name: 'metadata', type: objectMeta },
    2: {
      name: 'spec',
      type: {
        1: { name: 'holderIdentity', type: 'string' },
        2: { name: 'leaseDurationSeconds', type: 'int' },
        5: { name: 'leaseTransitions', type: 'int' },
      },
    },
  },
};

/** Decode a protobuf request body into the JSON object it stands for. */
export function decodeProtobuf(body: Buffer): JsonObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw errors.badRequest('protobuf: missing "k8s\\0" envelope prefix');
  const unknown = decodeMessage(body.subarray(4), {
    1: { name: 'typeMeta', type: { 1: { name: 'apiVersion', type: 'string' }, 2: { name: 'kind', type: 'string' } } },
    2: { name: 'raw', type: 'bytes' },
    3: { name: 'contentEncoding', type: 'string' },
    4: { name: 'contentType', type: 'string' },
  });
  const typeMeta = (unknown['typeMeta'] ?? {}) as JsonObject;
  const apiVersion = String(typeMeta['apiVersion'] ?? '');
  const kind = String(typeMeta['kind'] ?? '');
  if (unknown['contentEncoding']) throw errors.badRequest(`protobuf: content encoding ${String(unknown['contentEncoding'])} is not supported`);
  const schema = KINDS[`${apiVersion}/${kind}`];
  if (!schema)
    throw errors.unsupportedMediaType(`${PROTOBUF_CONTENT_TYPE} for ${apiVersion}/${kind}; send application/json`);
  const raw = Buffer.from(String(unknown['raw'] ?? ''), 'base64');
  const obj = decodeMessage(raw, schema);
  return { apiVersion, kind, ...obj, metadata: (obj['metadata'] ?? {}) as JsonObject };
}
