/** The one way a promise-returning function becomes a gRPC unary handler in the server. */
import type * as grpc from '@grpc/grpc-js';

/** A unary handler from a promise-returning function; errors already shaped for gRPC pass through. */
export function unaryHandler<Req>(
  handler: (req: Req, metadata: grpc.Metadata, call: grpc.ServerUnaryCall<Req, unknown>) => Promise<Record<string, unknown>>,
  toError: (err: unknown) => grpc.ServiceError,
): grpc.handleUnaryCall<Req, unknown> {
  return (call, callback) => {
    let pending: Promise<Record<string, unknown>>;
    try {
      pending = handler(call.request, call.metadata, call);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then((response) => callback(null, response), (err: unknown) => callback(toError(err)));
  };
}
