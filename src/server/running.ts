import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the CLI finds to talk to a running server: DATA/server.json and DATA/admin.token. */
export interface RunningServerInfo {
  pid: number;
  host: string;
  httpPort: number;
  listeners: Array<{ name: string; host: string; port: number; implicitTls: boolean }>;
}

export function serverInfoFile(dataDir: string): string {
  return join(dataDir, 'server.json');
}

export function adminTokenFile(dataDir: string): string {
  return join(dataDir, 'admin.token');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readRunningServer(dataDir: string): RunningServerInfo | null {
  const file = serverInfoFile(dataDir);
  if (!existsSync(file)) return null;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as RunningServerInfo;
    return isAlive(info.pid) ? info : null;
  } catch {
    return null;
  }
}
