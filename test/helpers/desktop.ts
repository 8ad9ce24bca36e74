// Desktop plumbing for tests that drive GUI mail clients: a virtual X display (Xvfb), X window
// names (xdotool), screenshots (ImageMagick `import`), and Thunderbird on a throwaway profile,
// remote-controlled over Marionette. Everything waits for events (a display number written to a
// pipe, a port file, a socket answer); timeouts are only safety nets.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { run } from './run.js';
import { eventually } from './server.js';

export const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Why the Thunderbird tests cannot run here, or false when they can. */
export function thunderbirdMissing(): string | false {
  if (process.env.MW_SKIP_THUNDERBIRD === '1') return 'MW_SKIP_THUNDERBIRD=1';
  for (const [cmd, pkg] of [['thunderbird', 'thunderbird'], ['Xvfb', 'xvfb'], ['xdotool', 'xdotool'], ['import', 'imagemagick']] as const) {
    if (!hasCommand(cmd)) return `${cmd} not installed (apt-get install ${pkg}, or set MW_SKIP_THUNDERBIRD=1)`;
  }
  return false;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(t);
}

export interface VirtualDisplay {
  /** ":N", for DISPLAY */
  display: string;
  /** Names of the X windows that have one (top level and children), e.g. "Alert". */
  windowNames(): Promise<string[]>;
  /** The whole screen as PNG (`import -window root`). */
  screenshot(file: string): Promise<void>;
  /**
   * Waits until a window whose name matches `name` (an xdotool pattern) is visible and has
   * been drawn: a window that is mapped but not painted yet is one flat colour.
   */
  waitForPaintedWindow(name: string, scratchFile: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts Xvfb on a free display; Xvfb itself picks the number and writes it to fd 3 when ready. */
export async function startXvfb(): Promise<VirtualDisplay> {
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const fd3 = child.stdio[3] as NodeJS.ReadableStream;
  const number = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`Xvfb did not start: ${stderr}`)), 60_000);
    fd3.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) { clearTimeout(t); resolve(buf.trim()); }
    });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`Xvfb exited (${code}): ${stderr}`)); });
  });
  const display = `:${number}`;
  const env = { ...process.env, DISPLAY: display };
  return {
    display,
    async windowNames() {
      const ids = (await run('xdotool', ['search', '--name', '.'], { env })).stdout.split('\n').filter(Boolean);
      const names: string[] = [];
      for (const id of ids) {
        const n = (await run('xdotool', ['getwindowname', id], { env })).stdout.trim();
        if (n) names.push(n);
      }
      return names;
    },
    async screenshot(file: string) {
      const r = await run('import', ['-window', 'root', file], { env });
      if (r.status !== 0) throw new Error(`import failed: ${r.stderr}`);
    },
    async waitForPaintedWindow(name: string, scratchFile: string) {
      const found = await run('xdotool', ['search', '--sync', '--onlyvisible', '--name', name], { env, timeoutMs: 120_000 });
      const id = found.stdout.split('\n')[0];
      if (found.status !== 0 || !id) throw new Error(`no visible window named ${name}`);
      await eventually(async () => {
        if ((await run('import', ['-window', id, scratchFile], { env })).status !== 0) return false;
        const spread = Number((await run('identify', ['-format', '%[fx:standard_deviation]', scratchFile])).stdout);
        return spread > 0.01;
      }, 120_000, `window ${name} to be drawn`);
    },
    close: () => stop(child),
  };
}

/**
 * A minimal Marionette client (the remote protocol built into Gecko): length-prefixed JSON,
 * commands [0, id, name, params], answers [1, id, error, result]. Runs in the chrome
 * context, so scripts see Thunderbird's own services (MailServices, Services.logins).
 */
export class Marionette {
  private buf = Buffer.alloc(0);
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private hello?: () => void;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.drain(); });
    socket.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('Marionette connection closed'));
      this.pending.clear();
    });
  }

  static async connect(port: number): Promise<Marionette> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const m = new Marionette(socket);
    await new Promise<void>((resolve) => { m.hello = resolve; m.drain(); });
    // 'ignore': a dialog Thunderbird opens is left for the test to read, not dismissed
    await m.command('WebDriver:NewSession', { unhandledPromptBehavior: 'ignore', capabilities: { alwaysMatch: { unhandledPromptBehavior: 'ignore' } } });
    await m.command('Marionette:SetContext', { value: 'chrome' });
    return m;
  }

  private drain(): void {
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.buf.subarray(0, colon).toString());
      if (this.buf.length < colon + 1 + length) return;
      const msg = JSON.parse(this.buf.subarray(colon + 1, colon + 1 + length).toString()) as unknown;
      this.buf = this.buf.subarray(colon + 1 + length);
      if (!Array.isArray(msg)) {
        this.hello?.(); // the greeting: {"applicationType":"gecko","marionetteProtocol":3}
        this.hello = undefined;
        continue;
      }
      const [, id, error, result] = msg as [number, number, { error: string; message: string } | null, unknown];
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (!p) continue;
      if (error) p.reject(Object.assign(new Error(`${error.error}: ${error.message}`), { code: error.error }));
      else p.resolve(result);
    }
  }

  command(name: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.seq;
    const body = JSON.stringify([0, id, name, params]);
    this.socket.write(`${Buffer.byteLength(body)}:${body}`);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** Runs an async chrome-privileged function body; `done(value)` is its last argument. */
  async script<T>(body: string, args: unknown[] = []): Promise<T> {
    const r = (await this.command('WebDriver:ExecuteAsyncScript', { script: body, args, newSandbox: true, scriptTimeout: 120_000 })) as { value: T };
    return r.value;
  }

  /** The text of the modal dialog now open (alert, confirm, prompt), or null. */
  async dialogText(): Promise<string | null> {
    try {
      return ((await this.command('WebDriver:GetAlertText')) as { value: string }).value;
    } catch (e) {
      if ((e as { code?: string }).code === 'no such alert') return null;
      throw e;
    }
  }

  async acceptDialog(): Promise<void> {
    await this.command('WebDriver:AcceptAlert');
  }

  /** Waits for a modal dialog to open and returns its text. */
  waitForDialog(timeoutMs = 120_000): Promise<string> {
    return eventually(() => this.dialogText(), timeoutMs, 'a Thunderbird dialog') as Promise<string>;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Thunderbird prefs (user.js) that silence first-run pages, updates and telemetry. */
const QUIET_PREFS: Record<string, string | number | boolean> = {
  'mail.shell.checkDefaultClient': false,
  'mail.provider.suppress_dialog_on_startup': true,
  'mail.spotlight.firstRunDone': true,
  'mail.winsearch.firstRunDone': true,
  'mailnews.start_page.enabled': false,
  'mail.rights.override': true,
  'mail.inappnotifications.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'app.update.disabledForTesting': true,
  'app.update.auto': false,
  'browser.shell.checkDefaultBrowser': false,
  'extensions.autoDisableScopes': 15,
  // Marionette picks a free port and writes it to <profile>/MarionetteActivePort
  'marionette.port': 0,
};

export interface ImapAccount {
  /** shown in Thunderbird's dialogs: "Alert from account <name>: …" */
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface RunningThunderbird {
  marionette: Marionette;
  /** The account's server key in the profile ("server1"). */
  serverKey: string;
  /**
   * Stores the password (as a user who ticked "remember" would have) and opens the account's
   * Inbox as a click on it does: a connection and a logon. Returns once the request is on
   * its way; inboxResult() says when Thunderbird has finished it (only after any dialog it
   * opened has been answered: the dialogs are modal for the IMAP connection).
   */
  openInbox(): Promise<void>;
  /** The nsresult the Inbox request ended with (0 = success), or null while it runs. */
  inboxResult(): Promise<number | null>;
  close(): Promise<void>;
}

/**
 * Starts Thunderbird on a throwaway profile in `dir` with one IMAP account (plain-text
 * connection, normal password) that does not log in by itself: the test says when, with
 * getMessages(). Local Folders exist so that no account wizard opens.
 */
export async function startThunderbird(display: VirtualDisplay, dir: string, account: ImapAccount): Promise<RunningThunderbird> {
  const profile = join(dir, 'profile');
  mkdirSync(profile, { recursive: true });
  const prefs: Record<string, string | number | boolean> = {
    ...QUIET_PREFS,
    'mail.accountmanager.accounts': 'account1,account2',
    'mail.accountmanager.defaultaccount': 'account1',
    'mail.accountmanager.localfoldersserver': 'server2',
    'mail.account.account1.identities': 'id1',
    'mail.account.account1.server': 'server1',
    'mail.account.account2.server': 'server2',
    'mail.identity.id1.useremail': account.user,
    'mail.identity.id1.fullName': 'Test User',
    'mail.server.server1.type': 'imap',
    'mail.server.server1.name': account.name,
    'mail.server.server1.hostname': account.host,
    'mail.server.server1.port': account.port,
    'mail.server.server1.userName': account.user,
    'mail.server.server1.socketType': 0, // plain; the test server allows plain-text logons
    'mail.server.server1.authMethod': 3, // "Normal password"
    'mail.server.server1.login_at_startup': false,
    'mail.server.server1.check_new_mail': false,
    'mail.server.server2.type': 'none',
    'mail.server.server2.hostname': 'Local Folders',
    'mail.server.server2.userName': 'nobody',
    'mail.server.server2.name': 'Local Folders',
  };
  writeFileSync(join(profile, 'user.js'), Object.entries(prefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''));
  const child = spawn('thunderbird', ['--profile', profile, '--no-remote', '--marionette', '-remote-allow-system-access'], {
    env: { ...process.env, DISPLAY: display.display, HOME: dir, MOZ_CRASHREPORTER_DISABLE: '1' },
    stdio: 'ignore',
  });
  const portFile = join(profile, 'MarionetteActivePort');
  let marionette: Marionette;
  try {
    const port = await eventually(() => {
      if (child.exitCode !== null) throw new Error(`thunderbird exited with ${child.exitCode}`);
      return existsSync(portFile) ? Number(readFileSync(portFile, 'utf8').trim()) : 0;
    }, 180_000, 'Thunderbird to start Marionette');
    marionette = await Marionette.connect(port);
  } catch (e) {
    await stop(child);
    throw e;
  }
  const m = marionette;
  return {
    marionette: m,
    serverKey: 'server1',
    async openInbox() {
      const r = await m.script<string>(`
        const done = arguments[arguments.length - 1];
        const [serverKey, origin, user, password] = arguments;
        (async () => {
          const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
          const { MailUtils } = ChromeUtils.importESModule("resource:///modules/MailUtils.sys.mjs");
          const login = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
          login.init(origin, null, origin, user, password, "", "");
          if (!(await Services.logins.searchLoginsAsync({ origin })).length) await Services.logins.addLoginAsync(login);
          // the main window's message window exists once its delayed start-up has run
          let win;
          while (!(win = Services.wm.getMostRecentWindow("mail:3pane"))) await new Promise((r) => setTimeout(r, 100));
          while (!win.delayedStartupPromise) await new Promise((r) => setTimeout(r, 100));
          await win.delayedStartupPromise;
          const server = MailServices.accounts.getIncomingServer(serverKey);
          const inbox = MailUtils.getOrCreateFolder(server.serverURI + "/INBOX");
          win.__mailwardenInboxResult = null;
          MailServices.imap.selectFolder(inbox, {
              QueryInterface: ChromeUtils.generateQI(["nsIUrlListener"]),
              OnStartRunningUrl() {},
              OnStopRunningUrl(url, status) { win.__mailwardenInboxResult = status; },
          }, win.msgWindow);
          done("started");
        })().catch((e) => done(String(e)));
      `, ['server1', `imap://${account.host}`, account.user, account.password]);
      if (r !== 'started') throw new Error(`could not open the Inbox: ${r}`);
    },
    async inboxResult() {
      // a plain (not async) script: Marionette runs one command at a time, and the dialog
      // checks must keep working while the request waits for a dialog to be answered
      const r = (await m.command('WebDriver:ExecuteScript', { script: 'return Services.wm.getMostRecentWindow("mail:3pane").__mailwardenInboxResult ?? null;', args: [] })) as { value: number | null };
      return r.value;
    },
    async close() {
      m.close();
      await stop(child, 15_000);
    },
  };
}
