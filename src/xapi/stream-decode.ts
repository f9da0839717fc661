/** An incremental decoder: fed chunks as they arrive, asked for the value at the end. */
export interface ChunkDecoder<C, T> {
  write(chunk: C): void;
  end(): T;
}

/** Bytes decoded before the stream pauses for a turn of the event loop. */
const BYTES_PER_TURN = 256 * 1024;

/**
 * Feeds a reply body to an incremental decoder chunk by chunk, so a large reply is parsed while it
 * is still arriving instead of in one blocking pass at the end. The first decoding error wins.
 * Every quarter MiB the stream pauses until the next turn of the event loop: a cold snapshot reads
 * some twenty replies at once, and the socket reads of all of them would otherwise run back to back
 * (one poll phase, a fifth of a second at 10,000 VMs) while timers and other work wait.
 */
export function decodeStream<C, T>(stream: NodeJS.ReadableStream, decoder: ChunkDecoder<C, T>): Promise<T> {
  return new Promise((resolve, reject) => {
    let failed = false;
    let sinceTurn = 0;
    const resume = () => stream.resume();
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
        return;
      }
      sinceTurn += (chunk as { length?: number }).length ?? 0;
      if (sinceTurn >= BYTES_PER_TURN) {
        sinceTurn = 0;
        stream.pause();
        setImmediate(resume);
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
