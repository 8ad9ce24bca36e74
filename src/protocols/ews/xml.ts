/** The strict XML reader lives with the front ends' shared code (Autodiscover reads with it too). */
export * from '../shared/xml.js';
