import { storageSuite } from '../support/audio-storage-suite';

storageSuite('local');
