import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLockHeld } from './start-lock.js';

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

export function readRunningServer(dataDir: string): RunningServerInfo | null {
  const file = serverInfoFile(dataDir);
  if (!existsSync(file)) return null;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as RunningServerInfo;
    // the file counts only while its server holds the data folder's lock (start-lock.ts): a PID
    // left by a server killed with -9 may now belong to any other process
    return startLockHeld(dataDir) ? info : null;
  } catch {
    return null;
  }
}
