// The OpenAPI document of the HTTP API, generated from the zod schemas that validate requests.
// Each router registers its own operations beside its routes; this file assembles the document:
// its info, the security scheme, the error component and every router's operations.
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { registerDeploymentReportPaths } from './deployment-reports';
import { registerEnvironmentPaths } from './environments';
import { registerEvidencePaths } from './evidence';
import { registerGovernancePaths } from './governance';
import { ErrorComponent } from './openapi-parts';
import { registerOperationalPaths } from './operational';
import { registerPolicyPaths } from './policies';
import { registerPromotionMessagePaths } from './promotion-messages';
import { registerPromotionPaths } from './promotions';
import { registerMlflowWebhookPaths } from './mlflow-webhooks';
import { registerModelPaths } from './registry';
import { registerReviewerPaths } from './reviewer';

/** Builds the OpenAPI 3.1 document of `/v1` (served at `/openapi.json`). */
export function buildOpenApiDocument(options: { version: string; serverUrl?: string }) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  registry.definitions.push({ type: 'schema', schema: ErrorComponent });
  for (const register of [
    registerPromotionPaths,
    registerPromotionMessagePaths,
    registerEvidencePaths,
    registerModelPaths,
    registerEnvironmentPaths,
    registerPolicyPaths,
    registerDeploymentReportPaths,
    registerMlflowWebhookPaths,
    registerReviewerPaths,
    registerGovernancePaths,
    registerOperationalPaths,
  ]) {
    register(registry);
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Modelgate API', version: options.version, description: 'Governed promotion of machine-learning models (the routes are described in docs/api.md).' },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
  });
}
