// Realistic AdmissionReview request bodies for the README's objects, shaped as
// kube-apiserver sends them: the object as stored on CREATE (uid,
// creationTimestamp, managedFields, kubectl's last-applied annotation),
// requestKind/requestResource, userInfo and CreateOptions. A few KiB each.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './util.ts';

/** The first document of examples/<file>, comments dropped. */
// Objects as YAML gives them: the bench reads and copies fields freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

export function exampleObject(file: string): KubeObject {
  return parse(readFileSync(path.join(REPO_ROOT, 'examples', file), 'utf8'));
}

function storedObject(object: KubeObject, manager: string): KubeObject {
  const created = '2026-01-15T09:30:00Z';
  const lastApplied = JSON.stringify(object);
  return {
    ...object,
    metadata: {
      ...object.metadata,
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: created,
      labels: { 'app.kubernetes.io/name': 'agentgateway', 'app.kubernetes.io/part-of': 'observability' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${lastApplied}\n` },
      managedFields: [
        {
          manager,
          operation: 'Update',
          apiVersion: object.apiVersion,
          time: created,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} },
              'f:labels': { '.': {}, 'f:app.kubernetes.io/name': {}, 'f:app.kubernetes.io/part-of': {} },
            },
            'f:spec': Object.fromEntries(Object.keys(object.spec ?? {}).map((k) => [`f:${k}`, {}])),
          },
        },
      ],
    },
  };
}

function review(object: KubeObject, resource: string): KubeObject {
  const [group, version] = object.apiVersion.split('/');
  const gvk = { group, version, kind: object.kind };
  const gvr = { group, version, resource };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:argocd:argocd-application-controller',
        uid: randomUUID(),
        groups: ['system:serviceaccounts', 'system:serviceaccounts:argocd', 'system:authenticated'],
        extra: {
          'authentication.kubernetes.io/credential-id': [`JTI=${randomUUID()}`],
          'authentication.kubernetes.io/node-name': ['worker-1'],
          'authentication.kubernetes.io/pod-name': ['argocd-application-controller-0'],
          'authentication.kubernetes.io/pod-uid': [randomUUID()],
        },
      },
      object: storedObject(object, 'argocd-controller'),
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'argocd-controller' },
    },
  };
}

/** { mutate, validate }: JSON strings of a Gateway CREATE and an HTTPListenerPolicy CREATE. */
export function admissionBodies(): { mutate: string; validate: string } {
  const gateway = exampleObject('40-gateway.yaml');
  const policy = exampleObject('50-httplistenerpolicy-access-logs.yaml');
  return {
    mutate: JSON.stringify(review(gateway, 'gateways')),
    validate: JSON.stringify(review(policy, 'httplistenerpolicies')),
  };
}

/** The objects for part 3 (created through the API server), with a name suffix. */
export function exampleGateway(name: string, namespace: string): KubeObject {
  const g = exampleObject('40-gateway.yaml');
  return { ...g, metadata: { ...g.metadata, name, ...(namespace ? { namespace } : {}) } };
}

export function examplePolicy(name: string, namespace: string): KubeObject {
  const p = exampleObject('50-httplistenerpolicy-access-logs.yaml');
  return { ...p, metadata: { ...p.metadata, name, ...(namespace ? { namespace } : {}) } };
}
