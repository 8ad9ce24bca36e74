/**
 * One budget per event-loop turn for all IMAP sessions of the process (TurnBudget.pause): a
 * session stops between commands and between the lines of a long response once the turn has
 * spent this much, and goes on in a later turn, after the sessions already waiting.
 * Why: the continuations of every session whose store answers came back in one message ran in
 * one turn, and `UID FETCH 1:* (FLAGS)` of 100,000 messages wrote its lines in one turn of
 * ~130 ms; every other client of the process (and every timer) waited for the end of it.
 * 2 ms: under the 5 ms p99 event-loop delay the server aims at, with room for what else a turn
 * does (socket reads, garbage collection), and long enough that the pause (one more loop
 * iteration) costs nothing measurable.
 */
import { TurnBudget } from '../../util/turn-budget.js';

export const IMAP_TURN_BUDGET_MS = 2;

export const imapTurns = new TurnBudget(IMAP_TURN_BUDGET_MS);
