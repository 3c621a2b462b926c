// The memory benchmark under the MicroPython webassembly port (32-bit), from npm.
// tools/bench_memory.py --vm wasm32 starts it:
//
//   node run.mjs HEAP_BYTES LIBDIR PHASE_MODULES WEB_MODULES DATAGRAMS PAGES SAVES [ROMFS]
//
// LIBDIR (the compiled firmware and workload.mpy) is copied into the port's in-memory
// file system; or, given ROMFS (an image of LIBDIR made by `mpremote romfs build`),
// the port gets it as its ROM partition: outside MicroPython's heap, mounted at /rom,
// its .mpy files run in place, as on a board whose firmware has a ROMFS partition.
// memory_wasm.py (next to this file) runs the workload as steps, one call from here
// each, so that the port's collector runs between them (it collects only when control
// is back in JavaScript). Prints memory_wasm.py's "key value" lines.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE = "@micropython/micropython-webassembly-pyscript";

let loadMicroPython;
try {
  ({ loadMicroPython } = await import(PACKAGE));
} catch (e) {
  console.error(`no ${PACKAGE} in ${HERE}/node_modules: run "npm ci" there (${e.message})`);
  process.exit(4);
}

const [heap, libdir, phase, web, datagrams, pages, saves, romfs] = process.argv.slice(2);
const mp = await loadMicroPython({
  heapsize: Number(heap),
  romfs: romfs ? new Uint8Array(fs.readFileSync(romfs)) : undefined,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function copyTree(src, dst) {
  mp.FS.mkdirTree(dst);
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    if (entry.isDirectory()) copyTree(from, dst + "/" + entry.name);
    else mp.FS.writeFile(dst + "/" + entry.name, fs.readFileSync(from));
  }
}

if (romfs) mp.FS.mkdirTree("/hg");
else copyTree(libdir, "/hg");
mp.FS.writeFile("/hg/memory_wasm.py", fs.readFileSync(path.join(HERE, "memory_wasm.py")));

const quote = (s) => JSON.stringify(String(s));
try {
  mp.runPython(`
import sys
sys.path[:] = ${romfs ? '[".frozen", "/rom", "/hg"]' : '[".frozen", "/hg"]'}
import memory_wasm
bench = memory_wasm.Bench([${quote(phase)}, ${quote(web)}, ${Number(datagrams)}, ${Number(
    pages,
  )}, "/state", ${Number(saves)}, ${Number(heap)}])
step = bench.step
busy = bench.busy
`);
} catch (e) {
  console.error(String(e));
  process.exit(3);
}
const step = mp.globals.get("step");
const busy = mp.globals.get("busy");
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

try {
  for (;;) {
    const result = step();
    if (result === 0) break; // done
    // An asyncio task (a web request) runs on JavaScript's timers: wait for its end.
    while (busy()) await tick();
  }
} catch (e) {
  console.log(String(e).includes("MemoryError") ? "MemoryError" : "", String(e));
  process.exit(3);
}
process.exit(0);
