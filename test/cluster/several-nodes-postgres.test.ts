// The several-nodes suite with the store on PostgreSQL (a fresh mw_test_* database) and Redis:
// the deployment the issue describes.
import { severalNodesSuite } from './several-nodes-suite.js';

severalNodesSuite('postgres');
