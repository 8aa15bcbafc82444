import { ProblemException } from '../core/http/problem.exception';

export enum WebhooksErrorCode {
  Disabled = 'webhook-disabled',
  DeliveryInFlight = 'delivery-in-flight',
}

const DEFINITIONS: Record<WebhooksErrorCode, { status: number; title: string; detail: string }> = {
  [WebhooksErrorCode.Disabled]: {
    status: 409,
    title: 'Conflict',
    detail: 'The webhook is disabled; enable it first (PATCH with enabled: true).',
  },
  [WebhooksErrorCode.DeliveryInFlight]: {
    status: 409,
    title: 'Conflict',
    detail: 'An attempt of this delivery is in flight; try again when it has finished.',
  },
};

export class WebhooksException extends ProblemException {
  constructor(code: WebhooksErrorCode, detail?: string) {
    const definition = DEFINITIONS[code];
    super({ ...definition, code, detail: detail ?? definition.detail });
  }
}
