// A writer thread that exits as soon as it starts, without a word: nothing keeps it alive.
require('./journal').noteStart();
