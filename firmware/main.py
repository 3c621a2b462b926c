# Composition root: the board, the state folder, then the app. The config is loaded
# before hushgate.app is imported (see hushgate/state.py).
import board

from hushgate import state

opts = board.options()
loaded = state.load(opts)

from hushgate import app  # noqa: E402  (after the config, on purpose)

app.run(board, opts, loaded)
