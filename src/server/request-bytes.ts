/**
 * The size of a request as the client sent it (its protobuf message), which is what etcd's
 * --max-request-bytes limits: etcd refuses a request whose raft encoding (the client's request
 * in a small header, server/etcdserver/v3_server.go processInternalRaftRequestOnce) is larger.
 * quorate's log holds another encoding, larger by its field names, so the limit is checked here,
 * on the bytes gRPC received, before anything else is done with the request.
 */
import type * as grpc from '@grpc/grpc-js';

const wireBytes = new WeakMap<object, number>();

/** `service` whose methods record each decoded request's wire size (for requestBytesOf). */
export function measuringRequests(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const request = method.requestDeserialize(bytes);
        if (typeof request === 'object' && request !== null) wireBytes.set(request, bytes.byteLength);
        return request;
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

/** The wire size of a request decoded by a measuringRequests service; null for any other. */
export function requestBytesOf(request: unknown): number | null {
  return typeof request === 'object' && request !== null ? wireBytes.get(request) ?? null : null;
}
