# CPython only (the browser test's runner, the host tests): its StreamWriter with
# the awrite/aclose that MicroPython's stream has. Never loaded on a board.


class Writer:
    def __init__(self, writer):
        self.w = writer

    def get_extra_info(self, name):
        return self.w.get_extra_info(name)

    async def awrite(self, data):
        self.w.write(data)
        await self.w.drain()

    async def aclose(self):
        self.w.close()
        await self.w.wait_closed()
