import type { EventRecord } from '../store/types.js';

const NS = 'http://schemas.microsoft.com/win/2004/08/events/event';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Windows time stamps carry 100 ns ticks; ours are milliseconds, padded to the same form. */
function systemTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/**
 * Our Binary payload (the original's is an undocumented store context blob): three
 * little-endian 32-bit numbers — occurrences this record stands for, first data number
 * (the limit for 9646), record ID — so that tools that read Binary find something stable.
 */
function binary(e: EventRecord): string {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(Math.min(e.count, 0xffffffff), 0);
  b.writeUInt32LE(Math.min(Number(e.data[1]) || 0, 0xffffffff), 4);
  b.writeUInt32LE(e.recordId % 0x100000000, 8);
  return b.toString('hex').toUpperCase();
}

/** One event in exactly the shape of the Event Viewer's "Event Xml" view. */
export function eventToXml(e: EventRecord): string {
  const lines = [
    `<Event xmlns="${NS}">`,
    '   <System>',
    `      <Provider Name="${esc(e.provider)}" />`,
    `      <EventID Qualifiers="${e.qualifiers}">${e.eventId}</EventID>`,
    `      <Level>${e.level}</Level>`,
    `      <Task>${e.task}</Task>`,
    `      <Keywords>${esc(e.keywords)}</Keywords>`,
    `      <TimeCreated SystemTime="${systemTime(e.time)}" />`,
    `      <EventRecordID>${e.recordId}</EventRecordID>`,
    '      <Channel>Application</Channel>',
    `      <Computer>${esc(e.computer)}</Computer>`,
    '      <Security />',
    '   </System>',
    '   <EventData>',
    ...e.data.map((d) => `      <Data>${esc(d)}</Data>`),
    `      <Binary>${binary(e)}</Binary>`,
    '   </EventData>',
    '</Event>',
  ];
  return lines.join('\n');
}

/** Several events: wrapped in <Events> as wevtutil's query output does. */
export function eventsToXml(events: EventRecord[]): string {
  if (events.length === 1) return eventToXml(events[0]) + '\n';
  return ['<Events>', ...events.map(eventToXml), '</Events>', ''].join('\n');
}
