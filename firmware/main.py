# Composition root: the board, the state folder, then the app. The config is loaded
# before hushgate.app is imported (see hushgate/state.py), and the code that only the
# boot needed is dropped first, so the app's import has the heap to itself.
import sys

import board

from hushgate import state

opts = board.options()
loaded = state.load(opts)
del sys.modules["hushgate.state"], state

from hushgate import app  # noqa: E402  (after the config, on purpose)

app.run(board, opts, loaded)
