/**
 * How every Stackwire process reaches Temporal: one address, optional (m)TLS, and one data converter
 * (the AES-256-GCM payload codec plus the failure converter that moves failure messages into an
 * encrypted payload). Clients, workers and the replayer all take theirs from here.
 */
import { fileURLToPath } from 'node:url';
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { temporalAddress, type Config, type TemporalTls } from './config.js';
import { createPayloadCodec } from './payload-codec.js';

/** Module with the `failureConverter` export (encodeCommonAttributes), for workers and the workflow bundle. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('../common/failure-converter.js', import.meta.url));

export interface TemporalConnectionOptions {
  address: string;
  tls?: TemporalTls;
}

/** Options for Connection.connect and NativeConnection.connect: the address, and TLS when TEMPORAL_TLS_* is set. */
export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const tls = config.temporal.tls;
  return { address: temporalAddress(config), ...(tls ? { tls } : {}) };
}

/** The data converter of every client, worker and replayer: without the same one, nobody can read the others' payloads. */
export function stackwireDataConverter(config: Pick<Config, 'secretKey' | 'oldSecretKeys'>): DataConverter {
  return { payloadCodecs: [createPayloadCodec(config)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** A client of the configured namespace that encrypts what it sends and decrypts what it reads. Close with client.connection.close(). */
export async function createTemporalClient(config: Config, opts: { interceptors?: WorkflowClientInterceptor[] } = {}): Promise<Client> {
  const dataConverter = stackwireDataConverter(config); // before connecting: a missing key is a configuration error, not a network one
  const connection = await Connection.connect(temporalConnectionOptions(config));
  return new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter,
    ...(opts.interceptors ? { interceptors: { workflow: opts.interceptors } } : {}),
  });
}
