// Entry point of the workflow bundle: every workflow type the worker registers.
export { ModelEnvironmentWorkflow } from './model-environment';
export { PromotionWorkflow } from './promotion';
export { StackSelfTestWorkflow } from './stack-self-test';
export { MlflowAliasGuardWorkflow } from './mlflow-alias-guard';
