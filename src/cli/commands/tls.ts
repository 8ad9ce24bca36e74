import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { allowOnly, CliError, type ParsedArgs } from '../args.js';
import { dataDirOf } from '../common.js';
import { printJson } from '../output.js';
import { loadConfig } from '../../server/config.js';
import { ownCertificateFiles } from '../../server/tls.js';
import { loadCertificate, type LoadedCertificate } from '../../tls/certificates.js';

/** A path as the user should type it: relative below the current folder, absolute otherwise. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** What a client needs to pin a certificate: its fingerprints in the forms clients ask for. */
function pins(cert: LoadedCertificate): { sha256: string; md5: string; spkiSha256: string } {
  const x509 = new X509Certificate(cert.cert);
  const spki = createPublicKey(cert.cert).export({ type: 'spki', format: 'der' });
  return {
    sha256: cert.fingerprint256,
    md5: createHash('md5').update(x509.raw).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:'),
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}

/** mailwarden tls show [--config FILE] — the certificates the listeners serve and how to trust them. */
export async function tlsCommand(sub: string | undefined, args: ParsedArgs): Promise<void> {
  allowOnly(args, ['config']);
  if (sub !== 'show') throw new CliError(`unknown "tls ${sub ?? ''}": use show`);
  const dataDir = dataDirOf(args);
  const own = ownCertificateFiles(dataDir);
  if (!existsSync(own.certFile)) throw new CliError(`no certificate in ${dataDir}/tls yet (it is made when "mailwarden serve --data ${dataDir}" first starts)`);
  const config = loadConfig(args.flags.get('config'));
  const pairs = [...config.tls.certificates.map((c) => ({ certFile: resolve(c.cert), keyFile: resolve(c.key) })), own];
  const loaded = pairs.map((files) => {
    try {
      return { files, cert: loadCertificate(files) };
    } catch (err) {
      return { files, error: (err as Error).message };
    }
  });
  if (args.switches.has('json')) {
    return printJson(loaded.map((l, i) => ('cert' in l && l.cert
      ? { default: i === 0, certFile: l.files.certFile, names: l.cert.names, subject: l.cert.subject, issuer: l.cert.issuer, validFrom: l.cert.validFrom, validTo: l.cert.validTo, ...pins(l.cert) }
      : { default: i === 0, certFile: l.files.certFile, error: (l as { error: string }).error })));
  }
  const out: string[] = [];
  loaded.forEach((l, i) => {
    const shown = shownPath(l.files.certFile);
    if (!('cert' in l) || !l.cert) {
      out.push(`${shown}: does not load: ${(l as { error: string }).error}`, '');
      return;
    }
    const c = l.cert;
    const p = pins(c);
    out.push(
      `${shown}${i === 0 ? '  (default: for clients that send no server name)' : ''}`,
      `  names     ${c.names.join(', ')}`,
      `  subject   ${c.subject}`,
      `  issuer    ${c.issuer}${c.issuer === c.subject ? '  (self-signed: clients must be told to trust it)' : ''}`,
      `  valid     ${c.validFrom.toISOString()} to ${c.validTo.toISOString()}`,
      `  SHA-256   ${p.sha256}`,
      `  MD5       ${p.md5}`,
      `  key pin   sha256//${p.spkiSha256}`,
      '',
    );
  });
  const own0 = loaded.find((l) => l.files === own);
  if (own0 && 'cert' in own0 && own0.cert && own0.cert.issuer === own0.cert.subject) {
    const file = shownPath(own.certFile);
    const name = own0.cert.names.find((n) => n === 'localhost') ?? own0.cert.names[0];
    const p = pins(own0.cert);
    out.push(
      'How to trust the self-signed certificate (connect by one of the names above: clients check them):',
      `  Thunderbird  at the first connection it offers "Confirm Security Exception": check that the`,
      `               SHA-256 shown is ${p.sha256} and confirm; or import ${file}`,
      `               in Settings > Privacy & Security > Manage Certificates > Servers.`,
      `  mutt/neomutt cat ${file} >> ~/.mutt_certificates  and  set certificate_file=~/.mutt_certificates`,
      `               (or compare the SHA-256 at its prompt and answer "(a)ccept always").`,
      `  curl         curl --cacert ${file} imaps://${name}:993/ -u alice@example.com`,
      `               or, by address: curl -k --pinnedpubkey 'sha256//${p.spkiSha256}' imaps://127.0.0.1:993/ …`,
      `  fetchmail    sslcertck  sslcertfile ${file}  (name the server ${name}), or by address:`,
      `               sslfingerprint "${p.md5}"`,
      `  Python       ssl.create_default_context(cafile="${file}")`,
      'A certificate from a public CA needs none of this: see README "Certificates".',
    );
  }
  process.stdout.write(out.join('\n') + '\n');
}
