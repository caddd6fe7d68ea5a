/**
 * Compile-time proof that the message shapes the server builds and reads (flow-types.ts) are the
 * messages the build generated from the `.proto` files: `npx tsc` fails here when a field's name or
 * type drifts from its definition. Nothing calls these identity functions.
 */
import type { Flow as GeneratedFlow } from './gen/types/flow/Flow.ts';
import type { FlowFilter__Output as GeneratedFlowFilter } from './gen/types/flow/FlowFilter.ts';
import type { GetFlowsRequest__Output as GeneratedGetFlowsRequest } from './gen/types/observer/GetFlowsRequest.ts';
import type { Flow, FlowFilter, GetFlowsRequest } from './flow-types.ts';

/** The server's flows are valid `flow.Flow` messages. */
export function flowAsMessage(flow: Flow): GeneratedFlow {
  return flow;
}

/** Every filter the decoder can produce is one the server reads. */
export function filterFromMessage(filter: GeneratedFlowFilter): FlowFilter {
  return filter;
}

/** Every GetFlows request the decoder can produce is one the server reads. */
export function requestFromMessage(request: GeneratedGetFlowsRequest): GetFlowsRequest {
  return request;
}
