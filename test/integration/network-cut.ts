import net from 'node:net';
import { freePort } from '../../stack/process';

/**
 * The network path to a real service, which a test can cut: `cut()` drops
 * every open connection and refuses new ones, as a stopped server would;
 * `restore()` listens again. Processes reach the service through `port`.
 * `cutAfter(bytes)` cuts once that many more bytes have gone through (either
 * way): mid-upload or mid-download. `cutAfterText(texts)` cuts on the
 * connection that sends those texts in that order, once the last has reached
 * the service and before its answer comes back: a statement the service
 * carried out, whose caller never hears so. It counts the bytes it carried.
 */
export async function cuttablePath(target: { host: string; port: number }) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let carried = 0;
  let cutAt = Infinity;
  let cutOnTexts: string[] | undefined;
  let cutSeen: string | undefined;
  const counted = (n: number) => {
    carried += n;
    if (carried >= cutAt) void path.cut();
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        let seen = 0;
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => (client.destroy(), upstream.destroy()));
        }
        client.on('data', (d: Buffer) => {
          counted(d.length);
          if (cutOnTexts) {
            const text = d.toString('latin1');
            for (let from = 0, at = 0; seen < cutOnTexts.length && (at = text.indexOf(cutOnTexts[seen], from)) >= 0; seen++) from = at + cutOnTexts[seen].length;
            if (seen === cutOnTexts.length) {
              cutSeen = cutOnTexts.join(' … ');
              cutOnTexts = undefined;
              // This chunk still reaches the service (ending the connection flushes it); nothing comes back.
              sockets.delete(upstream);
              upstream.end(d);
              void path.cut();
              return;
            }
          }
          upstream.write(d);
        });
        upstream.on('data', (d: Buffer) => (counted(d.length), client.write(d)));
        client.on('end', () => upstream.end());
        upstream.on('end', () => client.end());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const path = {
    port,
    get carried() {
      return carried;
    },
    get isCut() {
      return server === undefined;
    },
    async cut(): Promise<void> {
      cutAt = Infinity;
      const s = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    cutAfter(bytes: number): void {
      cutAt = carried + bytes;
    },
    cutAfterText(texts: string[]): void {
      cutOnTexts = texts;
    },
    /** The texts of the cut `cutAfterText` asked for, once it happened. */
    get cutOnText() {
      return cutSeen;
    },
    async restore(): Promise<void> {
      if (!server) await listen();
    },
    /** Cut for good: nothing of the path is left to keep the process alive. */
    close(): Promise<void> {
      return path.cut();
    },
  };
  await listen();
  return path;
}
