// Entry point of the workflow bundle: every workflow type the worker registers.
export { PromotionWorkflow } from './promotion';
export { StackSelfTestWorkflow } from './stack-self-test';
