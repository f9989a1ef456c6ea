// Entry point of the workflow bundle: every workflow type the worker registers.
export { StackSelfTestWorkflow } from './stack-self-test';
