// The workflow interceptors for OpenTelemetry, bundled with the workflow code: the SDK's, except
// that Updates are not wrapped in spans. Wrapping an Update's handler adds awaits that move its
// completion relative to the commands around it (the search attributes it upserts), and a promotion
// receiving decisions while a workflow task is in flight was then recorded in a history the SDK
// could not replay ("Update machine does not handle this event"). A decision's span is the API's
// `PromotionMessage:<kind>`, in the promotion's trace; the workflow run, its Signals and the
// activities it schedules (their trace context in the activity headers) are traced here.
import { OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { Next, UpdateInput, WorkflowInboundCallsInterceptor, WorkflowInterceptors } from '@temporalio/workflow';

/** The SDK's inbound interceptor, with Updates (and their validators) passed through untraced. */
class UntracedUpdatesInboundInterceptor extends OpenTelemetryInboundInterceptor {
  override handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return next(input);
  }

  override validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    next(input);
  }
}

/** The workflow interceptors (the bundle's `workflowInterceptorModules` entry). */
export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new UntracedUpdatesInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
