/** An incremental decoder: fed chunks as they arrive, asked for the value at the end. */
export interface ChunkDecoder<C, T> {
  write(chunk: C): void;
  end(): T;
}

/**
 * Feeds a reply body to an incremental decoder chunk by chunk, so a large reply is parsed while it
 * is still arriving instead of in one blocking pass at the end. The first decoding error wins.
 */
export function decodeStream<C, T>(stream: NodeJS.ReadableStream, decoder: ChunkDecoder<C, T>): Promise<T> {
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      failed = true;
      reject(err);
    };
    stream.on('data', (chunk: C) => {
      if (failed) return;
      try {
        decoder.write(chunk);
      } catch (err) {
        fail(err);
      }
    });
    stream.on('end', () => {
      if (failed) return;
      try {
        resolve(decoder.end());
      } catch (err) {
        fail(err);
      }
    });
    stream.on('error', reject);
  });
}
