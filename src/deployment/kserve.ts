// The deployment manifest GitOps commits: a KServe InferenceService serving the approved version.
import { stringify } from 'yaml';
import type { DeploymentRequest } from '../shared/deployment';

/** KServe's `modelFormat.name` for each artifact format Modelgate knows. */
const MODEL_FORMATS: Record<string, string> = {
  pickle: 'sklearn',
  joblib: 'sklearn',
  pytorch: 'pytorch',
  safetensors: 'huggingface',
  onnx: 'onnx',
  keras: 'tensorflow',
};

/** A DNS-1123 label (lowercase alphanumerics and `-`, at most 63 characters). */
export function dnsLabel(text: string): string {
  const label = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return label || 'model';
}

/** A Kubernetes label value (alphanumerics, `-`, `_`, `.`, at most 63 characters). */
function labelValue(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** Renders the InferenceService that serves `request.version` of the model in its environment. */
export function renderInferenceService(request: DeploymentRequest, namespace: string): string {
  const document = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name: dnsLabel(`${request.model}-${request.environment}`),
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'modelgate',
        'modelgate.io/model': labelValue(request.model),
        'modelgate.io/version': labelValue(request.version),
        'modelgate.io/environment': labelValue(request.environment),
      },
      annotations: {
        'modelgate.io/promotion-id': request.promotionId,
        'modelgate.io/deployment-id': request.deploymentId,
        'modelgate.io/action': request.action,
        'modelgate.io/artifact-sha256': request.artifact.sha256,
        ...(request.previousVersion ? { 'modelgate.io/previous-version': request.previousVersion } : {}),
      },
    },
    spec: {
      predictor: {
        model: {
          modelFormat: { name: MODEL_FORMATS[request.artifact.format] ?? request.artifact.format },
          // The copy the checks hashed and scanned, where deployers can reach the store.
          storageUri: request.artifact.verifiedUri ?? request.artifact.uri,
        },
      },
    },
  };
  return stringify(document, { lineWidth: 0 });
}
