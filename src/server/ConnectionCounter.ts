import type { Server } from 'node:http';

/** Open TCP connections of an HTTP server (keep-alive sockets included), for `/health`. */
export class ConnectionCounter {
  private count = 0;

  watch(server: Server): void {
    server.on('connection', (socket) => {
      this.count++;
      socket.once('close', () => this.count--);
    });
  }

  get open(): number {
    return this.count;
  }
}
