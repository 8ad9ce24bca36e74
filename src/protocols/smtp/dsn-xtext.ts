import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPServerAddress } from 'smtp-server';
import { xtextProblem } from '../../transport/dsn-params.js';
import type { SmtpReply } from '../../transport/replies.js';

/**
 * smtp-server decodes the xtext of ENVID (MAIL FROM) and ORCPT (RCPT TO) leniently and keeps
 * no copy of what the client sent, so a malformed value cannot be told from a good one in
 * onMailFrom/onRcptTo. Its address parser is wrapped, once, to check the raw values and note
 * the refusal against the parsed address; the handlers answer it (rawDsnProblem).
 */
const problems = new WeakMap<object, SmtpReply>();
let installed = false;

// ENVID=… or ORCPT=… as a parameter (after a space), up to the next space
const RAW_PARAM = /\s(ENVID|ORCPT)=(\S*)/gi;

function install(): void {
  if (installed) return;
  installed = true;
  const original = SMTPConnection.prototype._parseAddressCommand;
  SMTPConnection.prototype._parseAddressCommand = function parseAddressCommand(this: SMTPConnection, rawName, rawCommand) {
    const parsed = original.call(this, rawName, rawCommand);
    if (!parsed) return parsed;
    const line = typeof rawCommand === 'string' ? rawCommand : rawCommand.toString('latin1');
    // the usual command has neither parameter: one indexOf per MAIL and RCPT
    if (line.indexOf('=') < 0) return parsed;
    for (const m of line.matchAll(RAW_PARAM)) {
      const problem = xtextProblem(m[1]!.toUpperCase() as 'ENVID' | 'ORCPT', m[2]!);
      if (problem) {
        problems.set(parsed, problem);
        break;
      }
    }
    return parsed;
  };
}

/** Turns the raw-value check on (idempotent). */
export function checkDsnXtext(): void {
  install();
}

/** The 501 for the address's command when its ENVID or ORCPT was not xtext, else null. */
export function rawDsnProblem(address: SMTPServerAddress): SmtpReply | null {
  return problems.get(address) ?? null;
}
