# Composition root: the board, then the app. Everything else lives in hushgate/.
import board

from hushgate import app

app.run(board)
