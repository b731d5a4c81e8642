import fs from 'node:fs';

/**
 * CPU time in microseconds, from /proc (Linux): a process, a stack's
 * PostgreSQL, the whole machine. The load generator and the servers share the
 * machine's cores, so a request's cost is only visible split this way.
 */
export const cpu = {
  /** /proc counts in clock ticks of USER_HZ, 100 on Linux. */
  tickUs: 1e6 / 100,
  pid(pid: number): number {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * this.tickUs;
    } catch {
      return 0;
    }
  },
  /** A stack's PostgreSQL: the server started on dataDir and its backends. */
  postgres(dataDir: string): Map<number, number> {
    const procs = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
    const read = (pid: string, file: string) => {
      try {
        return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
      } catch {
        return '';
      }
    };
    const server = procs.find((d) => read(d, 'comm').trim() === 'postgres' && read(d, 'cmdline').includes(dataDir));
    const out = new Map<number, number>();
    if (!server) return out;
    out.set(Number(server), this.pid(Number(server)));
    for (const d of procs) {
      if (/^PPid:\s+(\d+)$/m.exec(read(d, 'status'))?.[1] === server) out.set(Number(d), this.pid(Number(d)));
    }
    return out;
  },
  machine(): number {
    const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (v.reduce((a, b) => a + b, 0) - v[3] - v[4]) * this.tickUs;
  },
  /** Starts a measurement of the server process, this process (the load generator), PostgreSQL and the machine. */
  start(serverPid: number, dataDir: string) {
    const t0 = { server: this.pid(serverPid), client: process.cpuUsage(), pg: this.postgres(dataDir), machine: this.machine() };
    return () => {
      const pg = this.postgres(dataDir);
      let pgUs = 0;
      for (const [pid, us] of pg) pgUs += us - (t0.pg.get(pid) ?? 0);
      const c = process.cpuUsage(t0.client);
      const server = this.pid(serverPid) - t0.server;
      const client = c.user + c.system;
      const machine = this.machine() - t0.machine;
      return { server, client, pg: pgUs, other: machine - server - client - pgUs, machine };
    };
  },
};

export type CpuUsage = ReturnType<ReturnType<typeof cpu.start>>;
