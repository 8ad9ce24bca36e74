// The several-nodes suite with every node on one shared SQLite data folder (and one Redis).
import { severalNodesSuite } from './several-nodes-suite.js';

severalNodesSuite('sqlite');
