import net from 'node:net';

/** An answer as the load generator records it: HTTP status (0: none) and the x-model-version header (0: none). */
export interface Answer {
  status: number;
  version: number;
}

/**
 * One keep-alive HTTP/1.1 connection of the load generator, on a raw socket
 * (node:http's client costs more CPU per request than the server does, on the
 * same two cores). Requests are prebuilt bytes; answers are read by
 * content-length. A connection that fails is reopened on its next request.
 */
export class KeepAliveConnection {
  private socket: net.Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private pending: ((a: Answer) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  send(request: Buffer): Promise<Answer> {
    return new Promise((resolve) => {
      this.pending = resolve;
      if (!this.socket) this.open();
      this.socket!.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private open(): void {
    const s = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = s;
    this.buf = Buffer.alloc(0);
    s.setTimeout(15_000, () => s.destroy());
    s.on('data', (d: Buffer) => this.read(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.socket === s) this.socket = undefined;
      this.finish(0, 0);
    });
  }

  private read(d: Buffer): void {
    this.buf = this.buf.length > 0 ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buf.length < end + 4 + length) return;
      this.buf = this.buf.subarray(end + 4 + length);
      this.finish(Number(head.slice(9, 12)), Number(/\r\nx-model-version: *(\d+)/i.exec(head)?.[1] ?? 0));
    }
  }

  private finish(status: number, version: number): void {
    const p = this.pending;
    this.pending = undefined;
    p?.({ status, version });
  }
}
